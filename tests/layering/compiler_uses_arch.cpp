// Control: the compiler may use arch.
#include "tatami/arch/config.h"
int layeringControl() { return int(tatami::ArchConfig{}.core.threads); }
