#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dts::scheduler {

// The due-time index of the engine: every scheduled job sits here under a
// dense slot number with the instant (microseconds since the epoch) of its
// next fire. A binary min-heap plus a slot -> heap position table: 16 bytes
// of heap entry and 4 bytes of position per job, O(log n) insert, update and
// remove, O(1) earliest. (A hierarchical timer wheel was the alternative; a
// heap wins here because fire times are exact instants spread over years,
// which a wheel would have to cascade; bench/engine_bench measures it.)
//
// Not thread-safe: owned by the engine's thread.
class DueIndex {
 public:
  struct Entry {
    int64_t due_micros;
    uint32_t slot;
  };

  // Inserts `slot` or moves it to `due_micros`.
  void Upsert(uint32_t slot, int64_t due_micros);
  // Removes `slot`; a slot that is not indexed is ignored.
  void Remove(uint32_t slot);
  bool Contains(uint32_t slot) const {
    return slot < position_.size() && position_[slot] != kAbsent;
  }
  // The due instant of `slot`, which must be indexed.
  int64_t DueOf(uint32_t slot) const { return heap_[position_[slot]].due_micros; }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest entry; the index must not be empty.
  const Entry& Earliest() const { return heap_.front(); }
  // Removes and appends to `out` every entry due at or before `now_micros`,
  // earliest first.
  void PopDue(int64_t now_micros, std::vector<Entry>& out);
  // Bytes held per indexed job (capacity included), for the benchmark.
  size_t MemoryBytes() const {
    return heap_.capacity() * sizeof(Entry) + position_.capacity() * sizeof(uint32_t);
  }

 private:
  static constexpr uint32_t kAbsent = 0xffffffffu;

  static bool Before(const Entry& a, const Entry& b) {
    return a.due_micros < b.due_micros || (a.due_micros == b.due_micros && a.slot < b.slot);
  }
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  void Place(size_t i, const Entry& e) {
    heap_[i] = e;
    position_[e.slot] = static_cast<uint32_t>(i);
  }
  void RemoveAt(size_t i);

  std::vector<Entry> heap_;
  std::vector<uint32_t> position_;  // by slot; kAbsent when not indexed
};

}  // namespace dts::scheduler
