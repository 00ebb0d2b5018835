// The prefetch hints are static inline functions in include/CPrefetch.h; SwiftPM needs a source file.
#include "CPrefetch.h"
