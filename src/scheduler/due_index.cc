#include "dts/scheduler/due_index.h"

namespace dts::scheduler {

void DueIndex::SiftUp(size_t i) {
  const Entry e = heap_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!Before(e, heap_[parent])) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, e);
}

void DueIndex::SiftDown(size_t i) {
  const Entry e = heap_[i];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], e)) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, e);
}

void DueIndex::Upsert(uint32_t slot, int64_t due_micros) {
  if (slot >= position_.size()) position_.resize(slot + 1, kAbsent);
  const uint32_t pos = position_[slot];
  if (pos == kAbsent) {
    heap_.push_back({due_micros, slot});
    position_[slot] = static_cast<uint32_t>(heap_.size() - 1);
    SiftUp(heap_.size() - 1);
    return;
  }
  const int64_t old_due = heap_[pos].due_micros;
  heap_[pos].due_micros = due_micros;
  if (due_micros < old_due) {
    SiftUp(pos);
  } else {
    SiftDown(pos);
  }
}

void DueIndex::RemoveAt(size_t i) {
  position_[heap_[i].slot] = kAbsent;
  const Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  Place(i, last);
  SiftDown(i);
  SiftUp(position_[last.slot]);
}

void DueIndex::Remove(uint32_t slot) {
  if (!Contains(slot)) return;
  RemoveAt(position_[slot]);
}

void DueIndex::PopDue(int64_t now_micros, std::vector<Entry>& out) {
  while (!heap_.empty() && heap_.front().due_micros <= now_micros) {
    out.push_back(heap_.front());
    RemoveAt(0);
  }
}

}  // namespace dts::scheduler
