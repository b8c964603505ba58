/* Board "mps3-an547": the common edgeprune board API. */
#include "../common/board.h"
