// Must not compile for compiler/ or arch/: they do not depend on tlm/.
#include "tatami/tlm/clock.h"
