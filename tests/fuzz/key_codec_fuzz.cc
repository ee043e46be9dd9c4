// libFuzzer target for KeyCodec (extension/key_codec.h).
//
// Arbitrary bytes: Decode and Skip never crash and agree on where each
// component ends; whatever decodes re-encodes to a key that decodes the same.
// Values drawn from the input: two-component keys with any ASC/DESC mix
// round-trip (the storage class too, as DecodesExactly promises), and the
// byte order of the encoded keys is SQLite's own order of the values (asked
// of SQLite itself), as is CompareValues.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_values.h"
#include "key_codec.h"
#include "manifold/engine.h"

namespace manifold {
namespace {

constexpr const char* kTarget = "key_codec_fuzz";

void DecodeArbitraryBytes(std::string_view bytes, SortOrder order) {
  std::string_view decode = bytes, skip = bytes;
  for (int i = 0; i < 64 && !decode.empty(); ++i) {
    Value value;
    Status decoded = KeyCodec::Decode(&decode, order, &value);
    Status skipped = KeyCodec::Skip(&skip, order);
    if (decoded.ok() != skipped.ok()) FuzzFail(kTarget, "Decode and Skip disagree on validity");
    if (!decoded.ok()) return;
    if (decode.size() != skip.size()) FuzzFail(kTarget, "Decode and Skip end at different bytes");
    std::string again;
    KeyCodec::Append(value.ref(), order, &again);
    std::string_view in = again;
    Value round;
    if (!KeyCodec::Decode(&in, order, &round).ok() || !in.empty() ||
        !SameValue(value.ref(), round.ref())) {
      FuzzFail(kTarget, "a decoded " + Describe(value.ref()) + " does not re-encode to itself");
    }
  }
  int64_t rowid = 0;
  if (KeyCodec::DecodeRowid(bytes, &rowid).ok() && KeyCodec::EncodeRowid(rowid) != bytes) {
    FuzzFail(kTarget, "DecodeRowid and EncodeRowid disagree");
  }
  const std::string successor = KeyCodec::PrefixSuccessor(bytes);
  if (!successor.empty() && (CompareBytes(successor, bytes) <= 0 ||
                             std::string_view(successor).substr(0, bytes.size()) == bytes)) {
    FuzzFail(kTarget, "PrefixSuccessor is not above every string with the prefix");
  }
}

std::string Encode(const Value& a, const Value& b, SortOrder oa, SortOrder ob) {
  std::string key;
  KeyCodec::Append(a.ref(), oa, &key);
  KeyCodec::Append(b.ref(), ob, &key);
  return key;
}

void CheckRoundTrip(const std::string& key, const Value* values, const SortOrder* orders) {
  std::string_view in = key;
  for (int i = 0; i < 2; ++i) {
    Value out;
    if (!KeyCodec::Decode(&in, orders[i], &out).ok()) {
      FuzzFail(kTarget, "cannot decode the key of " + Describe(values[i].ref()));
    }
    const ValueRef& v = values[i].ref();
    if (KeyCodec::DecodesExactly(v)) {
      if (!SameValue(v, out.ref())) {
        FuzzFail(kTarget, Describe(v) + " decodes as " + Describe(out.ref()));
      }
    } else if (v.type != ValueType::kReal || out.type != ValueType::kInteger ||
               static_cast<double>(out.i) != v.r) {
      FuzzFail(kTarget, "the integral " + Describe(v) + " decodes as " + Describe(out.ref()));
    }
  }
  if (!in.empty()) FuzzFail(kTarget, "bytes left after the last key component");
}

}  // namespace
}  // namespace manifold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  static SqliteOracle oracle;
  FuzzedDataProvider in(data, size);
  const SortOrder first_order = in.ConsumeBool() ? SortOrder::kDesc : SortOrder::kAsc;
  const SortOrder second_order = in.ConsumeBool() ? SortOrder::kDesc : SortOrder::kAsc;
  const SortOrder orders[2] = {first_order, second_order};
  if (in.ConsumeBool()) {
    std::string bytes = in.ConsumeRemainingBytesAsString();
    DecodeArbitraryBytes(bytes, first_order);
    return 0;
  }
  const Value a[2] = {ConsumeValue(in), ConsumeValue(in)};
  const Value b[2] = {ConsumeValue(in), ConsumeValue(in)};
  const std::string key_a = Encode(a[0], a[1], orders[0], orders[1]);
  const std::string key_b = Encode(b[0], b[1], orders[0], orders[1]);
  CheckRoundTrip(key_a, a, orders);
  CheckRoundTrip(key_b, b, orders);
  int expected = 0;
  for (int i = 0; i < 2 && expected == 0; ++i) {
    const int sqlite = oracle.Compare(a[i].ref(), b[i].ref());
    if (Sign(CompareValues(a[i].ref(), b[i].ref())) != sqlite) {
      FuzzFail(kTarget, "CompareValues(" + Describe(a[i].ref()) + ", " + Describe(b[i].ref()) +
                            ") differs from SQLite's " + std::to_string(sqlite));
    }
    expected = orders[i] == SortOrder::kDesc ? -sqlite : sqlite;
  }
  if (Sign(CompareBytes(key_a, key_b)) != expected) {
    FuzzFail(kTarget, "keys (" + Describe(a[0].ref()) + ", " + Describe(a[1].ref()) + ") and (" +
                          Describe(b[0].ref()) + ", " + Describe(b[1].ref()) +
                          ") compare as bytes unlike SQLite's " + std::to_string(expected));
  }
  return 0;
}
