#ifndef FLEETRULES_CPREFETCH_H
#define FLEETRULES_CPREFETCH_H

/// A hint that `address` will be read soon: the engine issues it for a reading's device state a
/// few readings ahead, so the cache misses of a large fleet overlap instead of stalling one by one.
static inline void fleetrules_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// The same hint for state about to be written.
static inline void fleetrules_prefetch_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
