// The declaration in include/CFuzzDriver.h is all this module holds; libFuzzer defines it.
#include "CFuzzDriver.h"
