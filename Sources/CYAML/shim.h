#ifndef FLEETRULES_CYAML_SHIM_H
#define FLEETRULES_CYAML_SHIM_H
#include <yaml.h>
#endif
