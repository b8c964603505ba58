/* Board "linux": the common edgeprune board API. */
#include "../common/board.h"
