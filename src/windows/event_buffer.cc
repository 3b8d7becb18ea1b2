#include "windows/event_buffer.h"

#include <cstring>

#include "core/error.h"
#include "windows/event_codec.h"

namespace salvo::windows {

ValueKind value_kind_of(const DataType& type, const std::string& column) {
  switch (type.id()) {
    case TypeId::kBool: return ValueKind::kBool;
    case TypeId::kInt32:
    case TypeId::kInt64: return ValueKind::kInt;
    case TypeId::kFloat32:
    case TypeId::kFloat64: return ValueKind::kFloat;
    case TypeId::kString:
    case TypeId::kBinary: return ValueKind::kString;
    case TypeId::kTimestamp: return ValueKind::kTimestamp;
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  "column \"" + column + "\" is " + type.to_string() + ", which windows cannot aggregate");
  }
}

EventBuffer::EventBuffer(std::vector<ValueKind> kinds) {
  for (ValueKind k : kinds) columns_.push_back(Slots{k, {}, {}, {}, {}});
}

void EventBuffer::grow() {
  const size_t capacity = capacity_ ? capacity_ * 2 : 1024;
  auto relayout = [&](auto& slots) {
    std::remove_reference_t<decltype(slots)> moved(capacity);
    for (uint64_t s = begin_; s < end_; ++s) moved[s & (capacity - 1)] = std::move(slots[s & mask_]);
    slots.swap(moved);
  };
  relayout(times_);
  for (Slots& c : columns_) {
    relayout(c.valid);
    switch (c.kind) {
      case ValueKind::kFloat: relayout(c.floats); break;
      case ValueKind::kString: relayout(c.strings); break;
      default: relayout(c.ints); break;
    }
  }
  capacity_ = capacity;
  mask_ = capacity - 1;
}

void EventBuffer::push_back(int64_t time, std::string_view payload) {
  if (end_ - begin_ == capacity_) grow();
  const uint64_t i = end_ & mask_;
  times_[i] = time;
  size_t pos = (columns_.size() + 7) / 8;
  for (size_t c = 0; c < columns_.size(); ++c) {
    Slots& slots = columns_[c];
    const bool valid = (static_cast<uint8_t>(payload[c / 8]) >> (c % 8)) & 1;
    slots.valid[i] = valid;
    if (!valid) continue;
    switch (slots.kind) {
      case ValueKind::kBool: slots.ints[i] = payload[pos++] != 0; break;
      case ValueKind::kInt:
      case ValueKind::kTimestamp:
        std::memcpy(&slots.ints[i], payload.data() + pos, 8);
        pos += 8;
        break;
      case ValueKind::kFloat:
        std::memcpy(&slots.floats[i], payload.data() + pos, 8);
        pos += 8;
        break;
      case ValueKind::kString: {
        const size_t n = read_varint(payload, pos);
        slots.strings[i].assign(payload.data() + pos, n);
        pos += n;
        break;
      }
    }
  }
  ++end_;
}

void EventBuffer::pop_front_until(uint64_t seq) {
  if (seq > end_) seq = end_;
  if (seq > begin_) begin_ = seq;
}

}  // namespace salvo::windows
