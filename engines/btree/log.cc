#include "btree/log.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "btree/format.h"

namespace manifold::btree {
namespace {

constexpr char kLogMagic[8] = {'M', 'N', 'F', 'B', 'L', 'O', 'G', '1'};
constexpr uint32_t kLogVersion = 1;
constexpr size_t kHeaderBytes = 64;
// A log that has not been written this far yet grows by zeros in steps of
// this size, so that most appends overwrite blocks the file already has
// (an fdatasync then has no file size or block allocation to record).
constexpr uint64_t kGrowth = 1 << 20;

uint32_t NewSalt(uint32_t old) {
  const auto now =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  uint32_t salt = static_cast<uint32_t>(now ^ (now >> 32)) * 2654435761u + old;
  return salt == old ? salt + 1 : salt;
}

}  // namespace

Result<bool> CommitLog::Read(Header* header, std::vector<std::string>* records) {
  records->clear();
  Result<uint64_t> size = file_->Size();
  if (!size.ok()) return size.status();
  written_ = *size;
  next_ = kBlockSize;
  if (*size < kBlockSize) return false;
  uint8_t h[kHeaderBytes];
  MANIFOLD_RETURN_IF_ERROR(file_->Read(0, sizeof(h), h));
  if (Load32(h) != Crc32c(0, h + 4, sizeof(h) - 4) || std::memcmp(h + 8, kLogMagic, 8) != 0 ||
      Load32(h + 16) != kLogVersion || Load32(h + 20) != kBlockSize) {
    return false;
  }
  header_.base_txn = Load64(h + 24);
  header_.base_meta_checksum = Load32(h + 32);
  header_.salt = Load32(h + 36);
  *header = header_;
  std::string block(kBlockSize, '\0');
  auto* b = reinterpret_cast<uint8_t*>(block.data());
  // Bounded by the file, not by capacity_: a log written with a larger
  // log_size than this open's holds records past it.
  for (uint64_t offset = kBlockSize; offset + kBlockSize <= *size;) {
    MANIFOLD_RETURN_IF_ERROR(file_->Read(offset, kBlockSize, b));
    const uint64_t txn = Load64(b + 8);
    const uint64_t length = Load64(b + 16);
    if (Load32(b + 4) != header_.salt || txn != header_.base_txn + records->size() + 1 ||
        length > kMaxRecord || offset + Blocks(length) * kBlockSize > *size) {
      break;
    }
    std::string record(kRecordHeader + length, '\0');
    MANIFOLD_RETURN_IF_ERROR(
        file_->Read(offset, record.size(), reinterpret_cast<uint8_t*>(record.data())));
    const auto* r = reinterpret_cast<const uint8_t*>(record.data());
    if (Load32(r) != Crc32c(0, r + 4, record.size() - 4)) break;
    records->push_back(record.substr(kRecordHeader));
    offset += Blocks(length) * kBlockSize;
    next_ = offset;
  }
  return true;
}

Status CommitLog::Reset(uint64_t base_txn, uint32_t base_meta_checksum) {
  uint8_t h[kHeaderBytes] = {};
  const uint32_t salt = NewSalt(header_.salt);
  std::memcpy(h + 8, kLogMagic, 8);
  Store32(h + 16, kLogVersion);
  Store32(h + 20, kBlockSize);
  Store64(h + 24, base_txn);
  Store32(h + 32, base_meta_checksum);
  Store32(h + 36, salt);
  Store32(h, Crc32c(0, h + 4, sizeof(h) - 4));
  MANIFOLD_RETURN_IF_ERROR(
      file_->Write(0, std::string_view(reinterpret_cast<const char*>(h), sizeof(h))));
  MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  written_ = std::max<uint64_t>(written_, sizeof(h));
  header_ = Header{base_txn, base_meta_checksum, salt};
  next_ = kBlockSize;
  return Status::OK();
}

Status CommitLog::Append(uint64_t txn, std::string_view record) {
  const uint64_t bytes = Blocks(record.size()) * kBlockSize;
  if (record.size() > max_record() || next_ + bytes > capacity_) {
    return Status::Internal(path_ + ": a log record does not fit");  // callers check Fits()
  }
  if (buffer_size_ < bytes) {
    buffer_.reset(new (std::align_val_t{kBlockSize}) uint8_t[bytes]);
    buffer_size_ = bytes;
  }
  uint8_t* b = buffer_.get();
  std::memset(b, 0, bytes);
  Store32(b + 4, header_.salt);
  Store64(b + 8, txn);
  Store64(b + 16, record.size());
  std::memcpy(b + kRecordHeader, record.data(), record.size());
  Store32(b, Crc32c(0, b + 4, kRecordHeader + record.size() - 4));
  if (next_ + bytes > written_) {
    // Zeros up to the next step first; the record then lands inside them.
    const uint64_t end = std::min(capacity_, (next_ + bytes + kGrowth - 1) / kGrowth * kGrowth);
    const std::string zeros(end - std::max(written_, next_ + bytes), '\0');
    if (!zeros.empty()) MANIFOLD_RETURN_IF_ERROR(file_->Write(end - zeros.size(), zeros));
    written_ = end;
  }
  // From here a failure may leave the record whole on the disk.
  Status s = file_->WriteDurably(next_, std::string_view(reinterpret_cast<const char*>(b), bytes));
  written_ = std::max(written_, next_ + bytes);
  if (!s.ok()) {
    unsure_ = true;
    return s;
  }
  next_ += bytes;
  return Status::OK();
}

Status CommitLog::Clear() {
  MANIFOLD_RETURN_IF_ERROR(file_->Truncate(0));
  MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  written_ = 0;
  next_ = kBlockSize;
  return Status::OK();
}

}  // namespace manifold::btree
