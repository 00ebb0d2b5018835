#ifndef FLEETRULES_CZLIB_SHIM_H
#define FLEETRULES_CZLIB_SHIM_H
#include <zlib.h>
#endif
