/* Board "mps2-an500": the common edgeprune board API. */
#include "../common/board.h"
