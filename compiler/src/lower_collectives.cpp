// Collectives over rings of cores: the data-parallel all-reduce (one ring, or two levels in groups) and the grid's all-reduce, all-gather and reduce-scatter along a grid line.
#include <cmath>
#include <functional>
#include <map>

#include "lowering.h"

namespace tatami::compiler::lowering {

CollectiveBuffers Lowering::peerBuffers(int core, const CollectiveBuffers& mine) const {
  const auto found = ctx_.peerCollectives.find(core);
  if (found == ctx_.peerCollectives.end()) return mine;
  if (collectives_.size() > found->second.size())
    throw CompileError("internal: core " + std::to_string(core) + " has " + std::to_string(found->second.size()) +
                       " data-parallel all-reduces; this core more");
  return found->second[collectives_.size() - 1];
}

void Lowering::allreduce(const Node& n, std::uint64_t dst) {
  // `allreduce_mean` runs over the data-parallel ring; `allreduce` over this core's line of the
  // tensor-parallel grid along its `axis` (sum, or max with reduce="max"). Each kind of ring has
  // its own semaphores (data arrived, receiver free, all-gather chunk arrived), so a neighbour
  // already in the next all-reduce of another line never feeds this one.
  const int x = n.inputs[0];
  if (n.op == Op::allreduce_mean) choice_ = groupsOf(x).why;
  if (n.op == Op::allreduce_mean && groupsOf(x).fanIn) return allreduceTree(n, dst, groupsOf(x).fanIn);
  if (n.op == Op::allreduce_mean && groupsOf(x).middle) return allreduceInThreeLevels(n, dst);
  if (n.op == Op::allreduce_mean && groupsOf(x).size) return allreduceInGroups(n, dst, groupsOf(x).size);
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size();
  const bool isMax = n.op == Op::allreduce && n.attrs.count("reduce") && std::get<std::string>(n.attrs.at("reduce")) == "max";
  const int sem = semOf(n);
  const int arrived = sem, freed = sem + 1, gathered = sem + 2;
  if (dst != addr(x)) dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);  // else in place (dyingOperandToReuse)
  if (p > 1) {
    // Ring all-reduce: P-1 reduce-scatter steps, then P-1 all-gather steps, chunk by chunk. A
    // core first tells its predecessor that its receive buffer is ready, and again after each
    // chunk it has consumed but the last; a core puts a chunk only when told so.
    const std::uint64_t chunk = chunkOf(x, p), bytes = chunk * 4;
    const std::uint64_t recv = temp(chunk, n.name + ".recv");
    const int r = rankOf(n);
    const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
    const auto mod = [p](long v) { return std::uint64_t(((v % long(p)) + long(p)) % long(p)); };
    if (n.op == Op::allreduce_mean) collectives_.push_back({dst, recv});
    // The next core's buffers (its own layout when the shares of the batch differ).
    const CollectiveBuffers there = n.op == Op::allreduce_mean ? peerBuffers(next, {dst, recv}) : CollectiveBuffers{dst, recv};
    li(20, next), li(21, prev), li(22, std::int64_t(bytes)), li(23, std::int64_t(there.recv)), li(4, std::int64_t(chunk));
    emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) - long(step)), into = mod(long(r) - long(step) - 1);
      emit_.emit(tatami::Op::Swait, {freed, 1});
      li(24, std::int64_t(dst + send * bytes));
      emit_.emit(tatami::Op::Put, {R(20), R(23), R(24), R(22), arrived});
      emit_.emit(tatami::Op::Swait, {arrived, 1});
      li(25, std::int64_t(dst + into * bytes));
      if (there.recv != recv) li(26, std::int64_t(recv));
      emit_.emit(isMax ? tatami::Op::Vmax : tatami::Op::Vadd, DType::F32, {R(25), R(25), R(there.recv != recv ? 26 : 23), R(4)});
      if (step + 2 < p) emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    }
    // Data-parallel rings are snakes of mesh neighbours; a grid line's ring waits each step for
    // its wrap-around link, p - 1 hops long.
    cost(n.op == Op::allreduce_mean ? ringAllreduceCycles(c_, p, bytes, ringsReach(c_, {ring}, 1.0))
                                    : ringAllreduceCycles(c_, p, bytes, double(p - 1)),
         "mesh");
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) + 1 - long(step));
      li(24, std::int64_t(dst + send * bytes));
      if (there.dst != dst) li(26, std::int64_t(there.dst + send * bytes));
      emit_.emit(tatami::Op::Put, {R(20), R(there.dst != dst ? 26 : 24), R(24), R(22), gathered});
      emit_.emit(tatami::Op::Swait, {gathered, 1});
    }
  }
  if (n.op == Op::allreduce_mean) vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(p), padded(n.outputs[0]));
}

void Lowering::allreduceInGroups(const Node& n, std::uint64_t dst, std::uint64_t groupSize) {
  // The data-parallel ring cut into G groups of C consecutive cores (neighbours on the mesh):
  // (1) a ring reduce-scatter inside each group leaves core j of a group the group's sum of
  // chunk j; (2) the cores j of all groups all-reduce that chunk over a ring of G; (3) a ring
  // all-gather inside each group. 2(C-1) + 2(G-1) ring steps instead of 2(CG-1), the same bytes
  // per core. Semaphores: 1-3 inside groups, 10-12 across them.
  //
  // When C does not divide the ring, the first E = P mod C groups have one core more, an extra
  // (E <= G): before (1) it adds its chunk j - 1 into member j's, the chunk member j sends first,
  // once every member has said it is ready (semaphores 16 ready, 17 fed); after (2) member j
  // puts its finished chunk j into the extra's (semaphore 18, C of them).
  const int x = n.inputs[0];
  const AllreducePlan plan = groupsOf(x);
  const std::uint64_t p = ctx_.ring.size(), C = groupSize, E = plan.extras, G = (p - E) / C, c1 = plan.chunk, c2 = c1 / G;
  const std::uint64_t b1 = c1 * 4, b2 = c2 * 4;
  const auto startOf = [&](std::uint64_t g) { return g * C + std::min(g, E); };
  const std::uint64_t rank = std::uint64_t(ctx_.rank);
  const std::uint64_t group = rank < E * (C + 1) ? rank / (C + 1) : E + (rank - E * (C + 1)) / C, pos = rank - startOf(group);
  const bool extra = pos == C, hasExtra = group < E;
  const auto groupCore = [&](std::uint64_t k) { return ctx_.ring[std::size_t(startOf(group) + k % C)]; };
  const auto crossCore = [&](std::uint64_t g) { return ctx_.ring[std::size_t(startOf(g % G) + pos)]; };
  const auto mod = [](long v, std::uint64_t m) { return std::uint64_t(((v % long(m)) + long(m)) % long(m)); };
  if (C * c1 > count(x)) vfill(dst + roundUp(count(x), 16) * 4, 0.0, C * c1 - roundUp(count(x), 16));
  if (dst != addr(x)) dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);  // else in place (dyingOperandToReuse)
  // The receive buffer; with a tree across the groups also its slots (after the reduce-scatter
  // inside the group, no neighbour puts into it any more).
  const std::uint64_t F = plan.treeAcross;
  const std::uint64_t recv = temp(F ? std::max(c1, treeDepth(G, F) * (F - 1) * c1) : c1, n.name + ".recv");
  collectives_.push_back({dst, recv});
  // A put names the receiver's addresses: its own layout when the shares of the batch differ
  // (register 26 then holds the remote address; the local one stays in 23 or 24).
  const auto remote = [&](std::uint64_t local, std::uint64_t there, int reg) {
    if (there == local) return R(reg);
    li(26, std::int64_t(there));
    return R(26);
  };
  const double estimate = plan.cycles;
  if (extra) {
    // Feed each member the chunk it sends first, then wait for the finished chunks.
    li(22, std::int64_t(b1));
    emit_.emit(tatami::Op::Swait, {16, int(C)});
    for (std::uint64_t j = 0; j < C; ++j) {
      const CollectiveBuffers there = peerBuffers(groupCore(j), {dst, recv});
      li(20, groupCore(j)), li(23, std::int64_t(there.recv)), li(24, std::int64_t(dst + mod(long(j) - 1, C) * b1));
      emit_.emit(tatami::Op::Put, {R(20), R(23), R(24), R(22), 17});
    }
    emit_.emit(tatami::Op::Swait, {18, int(C)});
    cost(estimate, "mesh");
    vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(p), padded(n.outputs[0]));
    return;
  }
  const CollectiveBuffers inGroup = peerBuffers(groupCore(pos + 1), {dst, recv}), across = peerBuffers(crossCore(group + 1), {dst, recv});
  li(20, groupCore(pos + 1)), li(21, groupCore(pos + C - 1)), li(22, std::int64_t(b1)), li(23, std::int64_t(recv)), li(4, std::int64_t(c1));
  if (hasExtra) {
    const int feeder = ctx_.ring[std::size_t(startOf(group) + C)];
    li(27, feeder);
    emit_.emit(tatami::Op::Sincr, {R(27), 16, 1});
    emit_.emit(tatami::Op::Swait, {17, 1});
    li(25, std::int64_t(dst + mod(long(pos) - 1, C) * b1));
    emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
  }
  // (1) reduce-scatter inside the group, ending with chunk `pos`.
  emit_.emit(tatami::Op::Sincr, {R(21), 2, 1});
  for (std::uint64_t step = 0; step + 1 < C; ++step) {
    emit_.emit(tatami::Op::Swait, {2, 1});
    li(24, std::int64_t(dst + mod(long(pos) - long(step) - 1, C) * b1));
    emit_.emit(tatami::Op::Put, {R(20), remote(recv, inGroup.recv, 23), R(24), R(22), 1});
    emit_.emit(tatami::Op::Swait, {1, 1});
    li(25, std::int64_t(dst + mod(long(pos) - long(step) - 2, C) * b1));
    emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
    if (step + 2 < C) emit_.emit(tatami::Op::Sincr, {R(21), 2, 1});
  }
  // (2) all-reduce chunk `pos` across the groups: in G pieces over a ring, or whole up and down a tree.
  const std::uint64_t mine = dst + pos * b1, theirs = across.dst + pos * b1;
  if (F) {
    std::vector<int> members;
    for (std::uint64_t g = 0; g < G; ++g) members.push_back(crossCore(g));
    treeAllreduce(members, group, F, mine, c1, {dst, recv});
  } else {
    li(20, crossCore(group + 1)), li(21, crossCore(group + G - 1)), li(22, std::int64_t(b2)), li(23, std::int64_t(recv)), li(4, std::int64_t(c2));
    emit_.emit(tatami::Op::Sincr, {R(21), 11, 1});
    for (std::uint64_t step = 0; step + 1 < G; ++step) {
      emit_.emit(tatami::Op::Swait, {11, 1});
      li(24, std::int64_t(mine + mod(long(group) - long(step), G) * b2));
      emit_.emit(tatami::Op::Put, {R(20), remote(recv, across.recv, 23), R(24), R(22), 10});
      emit_.emit(tatami::Op::Swait, {10, 1});
      li(25, std::int64_t(mine + mod(long(group) - long(step) - 1, G) * b2));
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
      if (step + 2 < G) emit_.emit(tatami::Op::Sincr, {R(21), 11, 1});
    }
    for (std::uint64_t step = 0; step + 1 < G; ++step) {
      const std::uint64_t at = mod(long(group) + 1 - long(step), G) * b2;
      li(24, std::int64_t(mine + at));
      emit_.emit(tatami::Op::Put, {R(20), remote(mine + at, theirs + at, 24), R(24), R(22), 12});
      emit_.emit(tatami::Op::Swait, {12, 1});
    }
  }
  if (hasExtra) {
    const int feeder = ctx_.ring[std::size_t(startOf(group) + C)];
    const std::uint64_t at = pos * b1;
    li(27, feeder), li(24, std::int64_t(dst + at)), li(22, std::int64_t(b1));
    emit_.emit(tatami::Op::Put, {R(27), remote(dst + at, peerBuffers(feeder, {dst, recv}).dst + at, 24), R(24), R(22), 18});
  }
  // (3) all-gather inside the group.
  li(20, groupCore(pos + 1)), li(22, std::int64_t(b1));
  for (std::uint64_t step = 0; step + 1 < C; ++step) {
    const std::uint64_t at = mod(long(pos) - long(step), C) * b1;
    li(24, std::int64_t(dst + at));
    emit_.emit(tatami::Op::Put, {R(20), remote(dst + at, inGroup.dst + at, 24), R(24), R(22), 3});
    emit_.emit(tatami::Op::Swait, {3, 1});
  }
  cost(estimate, "mesh");
  vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(p), padded(n.outputs[0]));
}

void Lowering::allreduceInThreeLevels(const Node& n, std::uint64_t dst) {
  // Ring rank r = (g, j2, j1): core j1 of group j2 of die group g, groups of C1 consecutive cores
  // and C2 groups to a die's group of D = C1 C2. (1) A reduce-scatter among the C1 leaves chunk j1
  // (c1 elements) summed over the group; (2) one among the C2 cores j1 of the die's groups leaves
  // piece j2 of it (c2 = c1 / C2) summed over the die; (3) a ring all-reduce of that piece over
  // the G dies' cores at the same place (chunks c3 = c2 / G); then the all-gathers of (2) and
  // (1). Semaphores: (1) 1-3, (2) 13-15, (3) 10-12.
  const int x = n.inputs[0];
  const AllreducePlan plan = groupsOf(x);
  const std::uint64_t p = ctx_.ring.size(), C1 = plan.size, C2 = plan.middle, D = C1 * C2, G = p / D;
  const std::uint64_t c1 = plan.chunk, c2 = c1 / C2, c3 = c2 / G;
  const std::uint64_t r = std::uint64_t(ctx_.rank), j1 = r % C1, j2 = (r / C1) % C2, g = r / D;
  const auto mod = [](long v, std::uint64_t m) { return std::uint64_t(((v % long(m)) + long(m)) % long(m)); };
  if (C1 * c1 > count(x)) vfill(dst + roundUp(count(x), 16) * 4, 0.0, C1 * c1 - roundUp(count(x), 16));
  if (dst != addr(x)) dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);  // else in place (dyingOperandToReuse)
  const std::uint64_t recv = temp(c1, n.name + ".recv");
  collectives_.push_back({dst, recv});
  // A ring among `members` (this core at place q): put into the next one's receive buffer, or
  // into its copy of a place of dst (its own layout when the shares of the batch differ).
  struct Ring {
    std::vector<int> members;
    std::uint64_t q;
  };
  const auto ringOf3 = [&](std::uint64_t size, const std::function<std::uint64_t(std::uint64_t)>& rankAt, std::uint64_t q) {
    Ring ring{{}, q};
    for (std::uint64_t m = 0; m < size; ++m) ring.members.push_back(ctx_.ring[std::size_t(rankAt(m))]);
    return ring;
  };
  const Ring level1 = ringOf3(C1, [&](std::uint64_t m) { return r - j1 + m; }, j1);
  const Ring level2 = ringOf3(C2, [&](std::uint64_t m) { return r - j2 * C1 + m * C1; }, j2);
  const Ring level3 = ringOf3(G, [&](std::uint64_t m) { return m * D + r % D; }, g);
  const auto next = [](const Ring& ring) { return ring.members[std::size_t((ring.q + 1) % ring.members.size())]; };
  const auto prev = [](const Ring& ring) { return ring.members[std::size_t((ring.q + ring.members.size() - 1) % ring.members.size())]; };
  const auto reduceScatter = [&](const Ring& ring, std::uint64_t base, std::uint64_t chunk, int arrived, int freed) {
    const std::uint64_t C = ring.members.size(), b = chunk * 4;
    const CollectiveBuffers there = peerBuffers(next(ring), {dst, recv});
    li(20, next(ring)), li(21, prev(ring)), li(22, std::int64_t(b)), li(23, std::int64_t(recv)), li(4, std::int64_t(chunk));
    if (there.recv != recv) li(26, std::int64_t(there.recv));
    emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    for (std::uint64_t step = 0; step + 1 < C; ++step) {
      emit_.emit(tatami::Op::Swait, {freed, 1});
      li(24, std::int64_t(base + mod(long(ring.q) - long(step) - 1, C) * b));
      emit_.emit(tatami::Op::Put, {R(20), R(there.recv != recv ? 26 : 23), R(24), R(22), arrived});
      emit_.emit(tatami::Op::Swait, {arrived, 1});
      li(25, std::int64_t(base + mod(long(ring.q) - long(step) - 2, C) * b));
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
      if (step + 2 < C) emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    }
  };
  const auto allGather = [&](const Ring& ring, std::uint64_t base, std::uint64_t chunk, int gathered) {
    const std::uint64_t C = ring.members.size(), b = chunk * 4;
    const CollectiveBuffers there = peerBuffers(next(ring), {dst, recv});
    li(20, next(ring)), li(22, std::int64_t(b));
    for (std::uint64_t step = 0; step + 1 < C; ++step) {
      const std::uint64_t at = base + mod(long(ring.q) - long(step), C) * b;
      li(24, std::int64_t(at));
      if (there.dst != dst) li(26, std::int64_t(there.dst + (at - dst)));
      emit_.emit(tatami::Op::Put, {R(20), R(there.dst != dst ? 26 : 24), R(24), R(22), gathered});
      emit_.emit(tatami::Op::Swait, {gathered, 1});
    }
  };
  const std::uint64_t base2 = dst + j1 * c1 * 4, base3 = base2 + j2 * c2 * 4;
  reduceScatter(level1, dst, c1, 1, 2);
  reduceScatter(level2, base2, c2, 13, 14);
  reduceScatter(level3, base3, c3, 10, 11);
  allGather(level3, base3, c3, 12);
  allGather(level2, base2, c2, 15);
  allGather(level1, dst, c1, 3);
  cost(plan.cycles, "mesh");
  vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(p), padded(n.outputs[0]));
}

void Lowering::allreduceTree(const Node& n, std::uint64_t dst, std::uint64_t fanIn) {
  const int x = n.inputs[0];
  const std::uint64_t whole = roundUp(count(x), 16);
  if (dst != addr(x)) dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);  // else in place (dyingOperandToReuse)
  const std::uint64_t slots = temp(treeDepth(ctx_.ring.size(), fanIn) * (fanIn - 1) * whole, n.name + ".slots");
  collectives_.push_back({dst, slots});
  treeAllreduce(ctx_.ring, std::uint64_t(ctx_.rank), fanIn, dst, whole, {dst, slots});
  cost(groupsOf(x).cycles, "mesh");
  vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(ctx_.ring.size()), padded(n.outputs[0]));
}

std::uint64_t treeDepth(std::uint64_t members, std::uint64_t fanIn) {
  std::uint64_t depth = 0;
  for (std::uint64_t stride = 1; stride < members; stride *= fanIn) ++depth;
  return depth;
}

void Lowering::treeAllreduce(const std::vector<int>& members, std::uint64_t r, std::uint64_t F, std::uint64_t at, std::uint64_t elements,
                             const CollectiveBuffers& mine) {
  // Members in a tree of fan-in F: at level l (stride s = F^l) member r leads when r is a
  // multiple of sF, its children the members r + js (j = 1 .. F-1) that exist; every other
  // member is the child at the one level where it stops being a multiple. Up: a leader signals
  // its children ready (semaphore 19: its slots, at mine.recv, belong to this all-reduce), each
  // child puts its sum into the leader's slot j of that level (semaphores 28, 29, 38, 39, 44-47
  // by level) and the leader adds them. Down: from member 0 each leader puts the result into its
  // children's (semaphore 40), the highest level first. The vector at `at` (of `elements`, a
  // multiple of 16) travels whole: (F-1) slots of it per level, whatever the members.
  static const int kUp[] = {28, 29, 38, 39, 44, 45, 46, 47};
  const std::uint64_t p = members.size(), bytes = elements * 4, depth = treeDepth(p, F);
  if (depth > sizeof(kUp) / sizeof(kUp[0])) throw CompileError("internal: a tree of fan-in " + std::to_string(F) + " over " + std::to_string(p) + " cores is too deep");
  const auto core = [&](std::uint64_t m) { return members[std::size_t(m)]; };
  const auto slotOf = [&](std::uint64_t level, std::uint64_t j) { return ((level * (F - 1)) + j - 1) * bytes; };
  // The levels this member leads, and the one where it is a child (depth for member 0).
  std::uint64_t childLevel = 0, stride = 1;
  while (childLevel < depth && r % (stride * F) == 0) ++childLevel, stride *= F;
  const auto childrenAt = [&](std::uint64_t s) {
    std::vector<std::uint64_t> kids;
    for (std::uint64_t j = 1; j < F && r + j * s < p; ++j) kids.push_back(r + j * s);
    return kids;
  };
  li(22, std::int64_t(bytes)), li(4, std::int64_t(elements));
  for (std::uint64_t level = 0, s = 1; level < childLevel; ++level, s *= F)
    for (std::uint64_t kid : childrenAt(s)) li(20, core(kid)), emit_.emit(tatami::Op::Sincr, {R(20), 19, 1});
  for (std::uint64_t level = 0, s = 1; level < childLevel; ++level, s *= F) {
    const std::vector<std::uint64_t> kids = childrenAt(s);
    if (kids.empty()) continue;
    emit_.emit(tatami::Op::Swait, {kUp[level], int(kids.size())});
    li(25, std::int64_t(at));
    for (std::size_t j = 1; j <= kids.size(); ++j) {
      li(23, std::int64_t(mine.recv + slotOf(level, j)));
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
    }
  }
  if (childLevel < depth) {
    // Up to the leader, then wait for the result.
    const std::uint64_t span = stride * F, leader = r - r % span, j = (r % span) / stride;
    const CollectiveBuffers there = peerBuffers(core(leader), mine);
    emit_.emit(tatami::Op::Swait, {19, 1});
    li(20, core(leader)), li(23, std::int64_t(there.recv + slotOf(childLevel, j))), li(24, std::int64_t(at));
    emit_.emit(tatami::Op::Put, {R(20), R(23), R(24), R(22), kUp[childLevel]});
    emit_.emit(tatami::Op::Swait, {40, 1});
  }
  for (std::uint64_t level = childLevel, s = stride; level-- > 0;) {
    s /= F;
    for (std::uint64_t kid : childrenAt(s)) {
      const CollectiveBuffers there = peerBuffers(core(kid), mine);
      li(20, core(kid)), li(23, std::int64_t(there.dst + (at - mine.dst))), li(24, std::int64_t(at));
      emit_.emit(tatami::Op::Put, {R(20), R(23), R(24), R(22), 40});
    }
  }
}

AllreducePlan Lowering::groupsOf(int x) const {
  const std::vector<int>& ring = ctx_.ring;
  const std::uint64_t p = ring.size();
  const auto key = std::make_pair(p, count(x));
  const std::lock_guard<std::recursive_mutex> hold(plans_->mutex);
  const auto known = plans_->byRingAndElements.find(key);
  if (known != plans_->byRingAndElements.end()) return known->second;
  AllreducePlan best;
  best.cycles = ringAllreduceCycles(c_, p, chunkOf(x, p) * 4, ringsReach(c_, {ring}, 1.0));
  std::ostringstream why;
  why << "one ring of " << p << ": est " << std::llround(best.cycles);
  const bool spansDies = std::any_of(ring.begin(), ring.end(), [&](int core) { return dieOfCore(c_, core) != dieOfCore(c_, ring.front()); });
  for (std::uint64_t size = 2; size * 2 <= p; ++size) {
    if (p % size) continue;
    const std::uint64_t groups = p / size;
    std::vector<std::vector<int>> inside(groups), across(size);
    bool withinDies = true;
    for (std::uint64_t k = 0; k < p; ++k) {
      inside[k / size].push_back(ring[k]), across[k % size].push_back(ring[k]);
      withinDies = withinDies && dieOfCore(c_, ring[k]) == dieOfCore(c_, ring[k - k % size]);
    }
    // Groups of 4 to p/4 cores; on a ring over several dies also groups that are each within a
    // die (each die's cores, or parts of them), however few the groups.
    if (!(size >= 4 && size * 4 <= p) && !(spansDies && withinDies)) continue;
    const std::uint64_t chunk = roundUp((count(x) + size - 1) / size, 16 * groups);
    const RingReach in = ringsReach(c_, inside, 1.0), out = ringsReach(c_, across, double(size));
    const double est = groupedAllreduceCycles(c_, p, size, chunk * 4, chunk / groups * 4, in, out);
    why << "; " << groups << " groups of " << size << ": est " << std::llround(est);
    if (est < best.cycles) best.size = size, best.chunk = chunk, best.cycles = est, best.inside = in, best.across = out, best.treeAcross = 0;
    // The step across the groups as a tree (from 4 groups): chunks of a vector per core, uncut.
    const std::uint64_t whole = roundUp((count(x) + size - 1) / size, 16);
    for (std::uint64_t F : {4u, 8u, 16u}) {
      if (groups < 4 || F > groups || treeDepth(groups, F) * (F - 1) * whole * 4 > kTreeSlotBytes) continue;
      const double t = ringReduceScatterCycles(c_, size, whole * 4, in) + treeAllreduceCycles(c_, F, whole * 4, treeReach(c_, ring, size, F), double(size)) +
                       ringAllgatherCycles(c_, size, whole * 4, in);
      why << "; " << groups << " groups of " << size << ", a tree of fan-in " << F << " across: est " << std::llround(t);
      if (t < best.cycles) best.size = size, best.chunk = whole, best.cycles = t, best.inside = in, best.across = out, best.treeAcross = F;
    }
  }
  // Groups of C that do not divide the ring: the first E = P mod C of the G groups take one core
  // more, which feeds the group (see allreduceInGroups), when E <= G and no divisor pays better.
  // Sizes from half to twice the square root of P (at least 4, at most P/4): where both levels'
  // steps are fewest.
  const std::uint64_t root = std::uint64_t(std::sqrt(double(p)));
  for (std::uint64_t size = std::max<std::uint64_t>(4, root / 2); size <= 2 * root && size * 4 <= p; ++size) {
    const std::uint64_t extras = p % size, groups = p / size;
    if (!extras || extras > groups) continue;
    std::vector<std::vector<int>> inside(groups), across(size);
    for (std::uint64_t g = 0, k = 0; g < groups; ++g) {
      for (std::uint64_t j = 0; j < size; ++j, ++k) inside[g].push_back(ring[k]), across[j].push_back(ring[k]);
      k += g < extras;
    }
    const std::uint64_t chunk = roundUp((count(x) + size - 1) / size, 16 * groups), bytes = chunk * 4;
    const RingReach in = ringsReach(c_, inside, 1.0), out = ringsReach(c_, across, double(size));
    // The feed: the members' ready signals, then C puts of a chunk from one core, and the add.
    const double feed = 2 * packetCycles(c_, double(size) / 2 + 1) +
                        double(size) * (double(c_.core.dma_setup_cycles) + double(bytes) / double(c_.die.link_bytes_per_cycle)) +
                        addCycles(c_, bytes);
    const double est = feed + groupedAllreduceCycles(c_, p - extras, size, bytes, chunk / groups * 4, in, out);
    why << "; " << groups << " groups of " << size << " (" << extras << " with one more): est " << std::llround(est);
    if (est < best.cycles)
      best.size = size, best.chunk = chunk, best.cycles = est, best.inside = in, best.across = out, best.extras = extras, best.treeAcross = 0;
  }
  // Three levels on a ring over several dies whose every die holds D of its cores: groups of C1
  // within a die, C2 = D / C1 of them a die's group, then the dies.
  std::map<int, std::uint64_t> perDie;
  for (int core : ring) ++perDie[dieOfCore(c_, core)];
  const std::uint64_t D = perDie.begin()->second;
  const bool evenDies = spansDies && std::all_of(perDie.begin(), perDie.end(), [&](const auto& e) { return e.second == D; });
  bool dieMajor = evenDies;
  for (std::uint64_t k = 0; dieMajor && k < p; ++k) dieMajor = dieOfCore(c_, ring[k]) == dieOfCore(c_, ring[k - k % D]);
  for (std::uint64_t C1 = 2; dieMajor && C1 * 2 <= D; ++C1) {
    if (D % C1) continue;
    const std::uint64_t C2 = D / C1, G = p / D;
    const std::uint64_t c1 = roundUp((count(x) + C1 - 1) / C1, 16 * C2 * G);
    std::vector<std::vector<int>> r1(p / C1), r2(p / C2), r3(D);
    for (std::uint64_t k = 0; k < p; ++k) {
      r1[k / C1].push_back(ring[k]);
      r2[(k / D) * C1 + k % C1].push_back(ring[k]);
      r3[k % D].push_back(ring[k]);
    }
    const RingReach a = ringsReach(c_, r1, 1.0), b = ringsReach(c_, r2, double(C1)), d = ringsReach(c_, r3, double(D));
    const double est = threeLevelAllreduceCycles(c_, p, C1, C2, c1 * 4, c1 / C2 * 4, c1 / C2 / G * 4, a, b, d);
    why << "; " << G << " dies x " << C2 << " groups of " << C1 << ": est " << std::llround(est);
    if (est < best.cycles) {
      best = AllreducePlan{};
      best.size = C1, best.middle = C2, best.chunk = c1, best.cycles = est, best.inside = a, best.between = b, best.across = d;
    }
  }
  // From 16 cores, a tree for a vector of up to 4 KiB, whose chunks would be mostly padding (a
  // chunk per core is at least one 64-byte vector): the whole vector up and down, fan-in 4, 8 or 16.
  const std::uint64_t whole = roundUp(count(x), 16);
  for (std::uint64_t F : {4u, 8u, 16u}) {
    if (whole > 1024 || p < 16 || F > p) continue;
    const double est = treeAllreduceCycles(c_, F, whole * 4, treeReach(c_, ring, 1, F));
    why << "; a tree of fan-in " << F << ": est " << std::llround(est);
    if (est < best.cycles) {
      best = AllreducePlan{};
      best.fanIn = F, best.cycles = est;
    }
  }
  if (best.fanIn)
    best.why = "a tree of fan-in " + std::to_string(best.fanIn) + " (" + why.str() + ")";
  else if (best.treeAcross)
    best.why = std::to_string(p / best.size) + " groups of " + std::to_string(best.size) + ", a tree of fan-in " + std::to_string(best.treeAcross) +
               " across (" + why.str() + ")";
  else if (best.middle)
    best.why = std::to_string(p / (best.size * best.middle)) + " dies x " + std::to_string(best.middle) + " groups of " + std::to_string(best.size) + " (" + why.str() + ")";
  else
    best.why = (best.size ? std::to_string(p / best.size) + " groups of " + std::to_string(best.size) +
                                (best.extras ? " (" + std::to_string(best.extras) + " with one more)" : std::string())
                          : "one ring") +
               " (" + why.str() + ")";
  plans_->byRingAndElements[key] = best;
  return best;
}

void Lowering::allgather(const Node& n, std::uint64_t dst) {
  // Ring all-gather of row blocks along this core's grid line: block k of the result comes from
  // the line's core k (every core has the same layout, so a put names its own addresses). Blocks
  // that are not whole 64-byte vectors travel in a scratch buffer of vector-aligned slots and are
  // packed at the end. The result's rows past `size` are the padding of the last blocks.
  const int x = n.inputs[0];
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size(), chunk = count(x), stride = roundUp(chunk, 16), bytes = stride * 4;
  const bool packed = stride == chunk;
  const int r = rankOf(n), sem = semOf(n);
  const int freed = sem + 1, gathered = sem + 2;
  const std::uint64_t slots = packed ? dst : temp(p * stride, n.name + ".slots");
  dma2d(slots + std::uint64_t(r) * bytes, addr(x), 1, chunk * 4, 0, 0);
  if (p > 1) {
    const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
    li(20, next), li(21, prev), li(22, std::int64_t(bytes));
    emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});  // my buffer is ready for my predecessor's blocks
    emit_.emit(tatami::Op::Swait, {freed, 1});
    const auto blockAt = [&](std::uint64_t step) { return std::uint64_t((long(r) - long(step) + long(p) * 2) % long(p)); };
    if (p > 2 && stride % 32 == 0) {
      // In two halves: the first half of a block travels on as soon as it has arrived, while the
      // second is still on its way (semaphores 20-21 along grid axis 0, 24-25 along axis 1).
      const std::uint64_t halfBytes = bytes / 2;
      const int base = 20 + 4 * int(n.intAttr("axis", 0));
      li(22, std::int64_t(halfBytes));
      for (int h = 0; h < 2; ++h) {
        li(24, std::int64_t(slots + blockAt(0) * bytes + std::uint64_t(h) * halfBytes));
        emit_.emit(tatami::Op::Put, {R(20), R(24), R(24), R(22), base + h});
      }
      for (std::uint64_t step = 0; step + 1 < p; ++step)
        for (int h = 0; h < 2; ++h) {
          emit_.emit(tatami::Op::Swait, {base + h, 1});
          if (step + 2 < p) {
            li(24, std::int64_t(slots + blockAt(step + 1) * bytes + std::uint64_t(h) * halfBytes));
            emit_.emit(tatami::Op::Put, {R(20), R(24), R(24), R(22), base + h});
          }
        }
    } else {
      for (std::uint64_t step = 0; step + 1 < p; ++step) {
        li(24, std::int64_t(slots + blockAt(step) * bytes));
        emit_.emit(tatami::Op::Put, {R(20), R(24), R(24), R(22), gathered});
        emit_.emit(tatami::Op::Swait, {gathered, 1});
      }
    }
    cost(double(p - 1) * ringStepCycles(c_, bytes, double(p - 1)), "mesh");  // each step waits for the wrap-around
  }
  if (!packed) dma2d(dst, slots, p, chunk * 4, chunk * 4, bytes);
}

void Lowering::reducescatter(const Node& n, std::uint64_t dst) {
  // Ring reduce-scatter of row blocks: the input (the whole extent, summed over the line) is cut
  // into blocks of the output's rows, each in a vector-aligned slot (zeros for the padding rows
  // of the last blocks); after P-1 steps this core's slot `rank` holds its block, summed.
  const int x = n.inputs[0];
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size(), chunk = count(n.outputs[0]), stride = roundUp(chunk, 16), bytes = stride * 4;
  const int r = rankOf(n), sem = semOf(n);
  const int arrived = sem, freed = sem + 1;
  const bool inPlace = inPlaceScatter_.count(x) > 0;
  const std::uint64_t slots = inPlace ? addr(x) : temp(p * stride, n.name + ".slots"), recv = temp(stride, n.name + ".recv");
  const std::uint64_t have = count(x), whole = std::min<std::uint64_t>(p, have / chunk), rest = have - whole * chunk;
  if (inPlace) {
    // The input's rows already sit in whole-vector blocks (its size is whole vectors too);
    // zeros after them for the padding.
    if (p * chunk > have) vfill(slots + have * 4, 0.0, p * chunk - have);
  } else {
    if (p * chunk > have) vfill(slots + whole * bytes, 0.0, (p - whole) * stride);  // the padding rows
    if (whole) dma2d(slots, addr(x), whole, chunk * 4, bytes, chunk * 4);
    if (rest) dma2d(slots + whole * bytes, addr(x) + whole * chunk * 4, 1, rest * 4, 0, 0);
  }
  const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
  const auto mod = [p](long v) { return std::uint64_t(((v % long(p)) + long(p)) % long(p)); };
  if (p > 2 && stride % 32 == 0) {
    // In two halves, pipelined: the first half of a block goes on to the next core as soon as it
    // is added, while the second half is still arriving. Each half has its own receive buffer
    // and semaphores (arrived, free): 20-23 along grid axis 0, 24-27 along axis 1.
    const std::uint64_t half = stride / 2, halfBytes = half * 4;
    const int base = 20 + 4 * int(n.intAttr("axis", 0));
    const auto A = [&](int h) { return int(base) + h; };
    const auto F = [&](int h) { return int(base) + 2 + h; };
    li(20, next), li(21, prev), li(22, std::int64_t(halfBytes)), li(4, std::int64_t(half));
    li(26, std::int64_t(recv)), li(27, std::int64_t(recv + halfBytes));
    const auto putHalf = [&](std::uint64_t block, int h) {
      emit_.emit(tatami::Op::Swait, {F(h), 1});
      li(24, std::int64_t(slots + block * bytes + std::uint64_t(h) * halfBytes));
      emit_.emit(tatami::Op::Put, {R(20), R(26 + h), R(24), R(22), A(h)});
    };
    emit_.emit(tatami::Op::Sincr, {R(21), F(0), 1});
    emit_.emit(tatami::Op::Sincr, {R(21), F(1), 1});
    putHalf(mod(long(r) - 1), 0);
    putHalf(mod(long(r) - 1), 1);
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t into = mod(long(r) - long(step) - 2);
      for (int h = 0; h < 2; ++h) {
        emit_.emit(tatami::Op::Swait, {A(h), 1});
        li(25, std::int64_t(slots + into * bytes + std::uint64_t(h) * halfBytes));
        emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(26 + h), R(4)});
        if (step + 2 < p) {
          emit_.emit(tatami::Op::Sincr, {R(21), F(h), 1});
          putHalf(into, h);  // what was just added travels on
        }
      }
    }
    cost(double(p - 1) * (ringStepCycles(c_, halfBytes, double(p - 1)) + addCycles(c_, bytes)), "mesh");
  } else if (p > 1) {
    li(20, next), li(21, prev), li(22, std::int64_t(bytes)), li(23, std::int64_t(recv)), li(4, std::int64_t(stride));
    emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) - long(step) - 1), into = mod(long(r) - long(step) - 2);
      emit_.emit(tatami::Op::Swait, {freed, 1});
      li(24, std::int64_t(slots + send * bytes));
      emit_.emit(tatami::Op::Put, {R(20), R(23), R(24), R(22), arrived});
      emit_.emit(tatami::Op::Swait, {arrived, 1});
      li(25, std::int64_t(slots + into * bytes));
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(25), R(25), R(23), R(4)});
      if (step + 2 < p) emit_.emit(tatami::Op::Sincr, {R(21), freed, 1});
    }
    cost(double(p - 1) * (ringStepCycles(c_, bytes, double(p - 1)) + addCycles(c_, bytes)), "mesh");
  }
  dma2d(dst, slots + std::uint64_t(r) * bytes, 1, chunk * 4, 0, 0);
}


}  // namespace tatami::compiler::lowering
