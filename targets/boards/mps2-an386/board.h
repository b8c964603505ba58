/* Board "mps2-an386": the common edgeprune board API. */
#include "../common/board.h"
