// libFuzzer target for RecordCodec and RecordReader (extension/record_codec.h).
//
// Arbitrary bytes: RecordReader::Open and Column never crash, for every column
// and one past the end. Values drawn from the input: a record of them reads
// back every value exactly, storage class and bits included, and columns past
// the end read as NULL.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_values.h"
#include "record_codec.h"

namespace manifold {
namespace {

constexpr const char* kTarget = "record_codec_fuzz";

void ReadArbitraryBytes(const std::string& bytes) {
  RecordReader reader;
  if (!reader.Open(bytes).ok()) return;
  for (int i = 0; i <= reader.column_count(); ++i) {
    ValueRef value;
    if (!reader.Column(i, &value).ok()) continue;
    if ((value.type == ValueType::kText || value.type == ValueType::kBlob) &&
        !value.bytes.empty() &&
        (value.bytes.data() < bytes.data() ||
         value.bytes.data() + value.bytes.size() > bytes.data() + bytes.size())) {
      FuzzFail(kTarget, "a column's bytes point outside the record");
    }
  }
}

}  // namespace
}  // namespace manifold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) {
    ReadArbitraryBytes(in.ConsumeRemainingBytesAsString());
    return 0;
  }
  std::vector<Value> values(in.ConsumeIntegralInRange<size_t>(0, 12));
  for (Value& v : values) v = ConsumeValue(in);
  std::vector<ValueRef> refs;
  for (const Value& v : values) refs.push_back(v.ref());
  std::string record = "prefix";  // Encode appends
  RecordCodec::Encode(refs, &record);
  record.erase(0, 6);
  RecordReader reader;
  if (!reader.Open(record).ok()) FuzzFail(kTarget, "cannot open an encoded record");
  if (reader.column_count() != static_cast<int>(values.size())) {
    FuzzFail(kTarget, "the record holds " + std::to_string(reader.column_count()) +
                          " columns, not " + std::to_string(values.size()));
  }
  for (size_t i = 0; i <= values.size(); ++i) {
    ValueRef out;
    if (!reader.Column(static_cast<int>(i), &out).ok()) {
      FuzzFail(kTarget, "cannot read column " + std::to_string(i));
    }
    const ValueRef expected = i < values.size() ? refs[i] : ValueRef::Null();
    if (!SameValue(expected, out)) {
      FuzzFail(kTarget, "column " + std::to_string(i) + ": " + Describe(expected) +
                            " reads back as " + Describe(out));
    }
  }
  return 0;
}
