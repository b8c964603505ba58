// Bindings for activation and quantize/dequantize kernels.
#include <string>

#include "bindings.h"
#include "edgeprune/kernels/activation.h"

namespace {

template <typename T>
void check_size(py::array &a, int64_t n, const char *what) {
  if (a.size() < n) throw std::invalid_argument(std::string(what) + ": short buffer");
  ep_py::ptr<T>(a, what);
}

// Keeps a const array alive for the call and checks its length.
template <typename T>
const T *const_arr(const py::dict &consts, const char *key, int64_t n) {
  if (!consts.contains(key)) throw std::invalid_argument(std::string("missing const ") + key);
  py::array a = consts[key].cast<py::array>();
  if (a.size() < n) throw std::invalid_argument(std::string("const ") + key + " is too short");
  return ep_py::ptr<T>(a, key);
}

}  // namespace

EP_BIND(bind_activation) {
  m.def("ep_softmax_s8", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_softmax_s8_params params{};
    params.outer_size = ep_py::get_i(p, "outer_size");
    params.depth = ep_py::get_i(p, "depth");
    params.input_multiplier = ep_py::get_i(p, "input_multiplier");
    params.input_left_shift = ep_py::get_i(p, "input_left_shift");
    params.diff_min = ep_py::get_i(p, "diff_min");
    const int64_t n = (int64_t)params.outer_size * params.depth;
    check_size<int8_t>(in, n, "ep_softmax_s8 input");
    check_size<int8_t>(out, n, "ep_softmax_s8 output");
    ep_py::check(ep_softmax_s8(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_softmax_s8");
  });
  m.def("ep_softmax_f32", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_softmax_f32_params params{};
    params.outer_size = ep_py::get_i(p, "outer_size");
    params.depth = ep_py::get_i(p, "depth");
    params.beta = ep_py::get_f(p, "beta");
    const int64_t n = (int64_t)params.outer_size * params.depth;
    check_size<float>(in, n, "ep_softmax_f32 input");
    check_size<float>(out, n, "ep_softmax_f32 output");
    ep_py::check(ep_softmax_f32(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<float>(out, "out")),
                 "ep_softmax_f32");
  });

  m.def("ep_logistic_s8", [](py::dict p, py::dict c, py::array in, py::array out) {
    ep_logistic_s8_params params{};
    params.size = ep_py::get_i(p, "size");
    params.lut = const_arr<int8_t>(c, "lut", 256);
    check_size<int8_t>(in, params.size, "ep_logistic_s8 input");
    check_size<int8_t>(out, params.size, "ep_logistic_s8 output");
    ep_py::check(ep_logistic_s8(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_logistic_s8");
  });
  m.def("ep_logistic_f32", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_logistic_f32_params params{};
    params.size = ep_py::get_i(p, "size");
    check_size<float>(in, params.size, "ep_logistic_f32 input");
    check_size<float>(out, params.size, "ep_logistic_f32 output");
    ep_py::check(ep_logistic_f32(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<float>(out, "out")),
                 "ep_logistic_f32");
  });

  m.def("ep_relu_s8", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_relu_s8_params params{};
    params.size = ep_py::get_i(p, "size");
    params.input_offset = ep_py::get_i(p, "input_offset");
    params.output_offset = ep_py::get_i(p, "output_offset");
    params.output_multiplier = ep_py::get_i(p, "output_multiplier");
    params.output_shift = ep_py::get_i(p, "output_shift");
    params.act_min = ep_py::get_i(p, "act_min");
    params.act_max = ep_py::get_i(p, "act_max");
    check_size<int8_t>(in, params.size, "ep_relu_s8 input");
    check_size<int8_t>(out, params.size, "ep_relu_s8 output");
    ep_py::check(ep_relu_s8(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<int8_t>(out, "out")), "ep_relu_s8");
  });
  m.def("ep_relu_f32", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_relu_f32_params params{};
    params.size = ep_py::get_i(p, "size");
    params.act_min = ep_py::get_f(p, "act_min");
    params.act_max = ep_py::get_f(p, "act_max");
    check_size<float>(in, params.size, "ep_relu_f32 input");
    check_size<float>(out, params.size, "ep_relu_f32 output");
    ep_py::check(ep_relu_f32(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<float>(out, "out")), "ep_relu_f32");
  });

  m.def("ep_hard_swish_s8", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_hard_swish_s8_params params{};
    params.size = ep_py::get_i(p, "size");
    params.input_zero_point = ep_py::get_i(p, "input_zero_point");
    params.output_zero_point = ep_py::get_i(p, "output_zero_point");
    params.reluish_multiplier_fixedpoint_int16 = ep_py::get_i(p, "reluish_multiplier_fixedpoint_int16");
    params.reluish_multiplier_exponent = ep_py::get_i(p, "reluish_multiplier_exponent");
    params.output_multiplier_fixedpoint_int16 = ep_py::get_i(p, "output_multiplier_fixedpoint_int16");
    params.output_multiplier_exponent = ep_py::get_i(p, "output_multiplier_exponent");
    check_size<int8_t>(in, params.size, "ep_hard_swish_s8 input");
    check_size<int8_t>(out, params.size, "ep_hard_swish_s8 output");
    ep_py::check(ep_hard_swish_s8(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_hard_swish_s8");
  });
  m.def("ep_hard_swish_f32", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_hard_swish_f32_params params{};
    params.size = ep_py::get_i(p, "size");
    check_size<float>(in, params.size, "ep_hard_swish_f32 input");
    check_size<float>(out, params.size, "ep_hard_swish_f32 output");
    ep_py::check(ep_hard_swish_f32(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<float>(out, "out")),
                 "ep_hard_swish_f32");
  });

  m.def("ep_quantize_f32_s8", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_quantize_f32_s8_params params{};
    params.size = ep_py::get_i(p, "size");
    params.scale = ep_py::get_f(p, "scale");
    params.zero_point = ep_py::get_i(p, "zero_point");
    check_size<float>(in, params.size, "ep_quantize_f32_s8 input");
    check_size<int8_t>(out, params.size, "ep_quantize_f32_s8 output");
    ep_py::check(ep_quantize_f32_s8(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_quantize_f32_s8");
  });
  m.def("ep_quantize_pc_f32_s8", [](py::dict p, py::dict c, py::array in, py::array out) {
    ep_quantize_pc_f32_s8_params params{};
    params.outer_size = ep_py::get_i(p, "outer_size");
    params.channels = ep_py::get_i(p, "channels");
    params.inner_size = ep_py::get_i(p, "inner_size");
    params.scales = const_arr<float>(c, "scales", params.channels);
    params.zero_points = const_arr<int32_t>(c, "zero_points", params.channels);
    const int64_t n = (int64_t)params.outer_size * params.channels * params.inner_size;
    check_size<float>(in, n, "ep_quantize_pc_f32_s8 input");
    check_size<int8_t>(out, n, "ep_quantize_pc_f32_s8 output");
    ep_py::check(ep_quantize_pc_f32_s8(&params, ep_py::ptr<float>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_quantize_pc_f32_s8");
  });
  m.def("ep_quantize_s8_s8", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_quantize_s8_s8_params params{};
    params.size = ep_py::get_i(p, "size");
    params.input_zero_point = ep_py::get_i(p, "input_zero_point");
    params.output_zero_point = ep_py::get_i(p, "output_zero_point");
    params.output_multiplier = ep_py::get_i(p, "output_multiplier");
    params.output_shift = ep_py::get_i(p, "output_shift");
    check_size<int8_t>(in, params.size, "ep_quantize_s8_s8 input");
    check_size<int8_t>(out, params.size, "ep_quantize_s8_s8 output");
    ep_py::check(ep_quantize_s8_s8(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<int8_t>(out, "out")),
                 "ep_quantize_s8_s8");
  });

  m.def("ep_dequantize_s8_f32", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_dequantize_s8_f32_params params{};
    params.size = ep_py::get_i(p, "size");
    params.scale = ep_py::get_f(p, "scale");
    params.zero_point = ep_py::get_i(p, "zero_point");
    check_size<int8_t>(in, params.size, "ep_dequantize_s8_f32 input");
    check_size<float>(out, params.size, "ep_dequantize_s8_f32 output");
    ep_py::check(ep_dequantize_s8_f32(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<float>(out, "out")),
                 "ep_dequantize_s8_f32");
  });
  m.def("ep_dequantize_pc_s8_f32", [](py::dict p, py::dict c, py::array in, py::array out) {
    ep_dequantize_pc_s8_f32_params params{};
    params.outer_size = ep_py::get_i(p, "outer_size");
    params.channels = ep_py::get_i(p, "channels");
    params.inner_size = ep_py::get_i(p, "inner_size");
    params.scales = const_arr<float>(c, "scales", params.channels);
    params.zero_points = const_arr<int32_t>(c, "zero_points", params.channels);
    const int64_t n = (int64_t)params.outer_size * params.channels * params.inner_size;
    check_size<int8_t>(in, n, "ep_dequantize_pc_s8_f32 input");
    check_size<float>(out, n, "ep_dequantize_pc_s8_f32 output");
    ep_py::check(
        ep_dequantize_pc_s8_f32(&params, ep_py::ptr<int8_t>(in, "in"), ep_py::ptr<float>(out, "out")),
        "ep_dequantize_pc_s8_f32");
  });
}
