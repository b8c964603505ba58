// LOGISTIC int8: a table lookup; the 256-entry table is built at compile time (TFLite LUTPopulate).
#include "edgeprune/kernels/activation.h"

extern "C" ep_status ep_logistic_s8(const ep_logistic_s8_params *params, const int8_t *input, int8_t *output) {
  const int32_t n = params->size;
  const int8_t *lut = params->lut;
  if (n < 0 || lut == nullptr) return EP_ERROR_ARGUMENT;
  for (int32_t i = 0; i < n; ++i) output[i] = lut[(uint8_t)input[i]];
  return EP_OK;
}
