// Bindings for elementwise kernels (ADD, MUL).
#include "bindings.h"
#include "edgeprune/kernels/elementwise.h"

namespace {

// Broadcast geometry shared by every elementwise params struct; checks the buffers cover it.
template <typename P>
void load_shape(const py::dict& d, P& p, const py::array& a, const py::array& b, const py::array& out,
                const char* fn) {
  p.size = ep_py::get_i(d, "size");
  p.broadcast = ep_py::get_i(d, "broadcast");
  ep_py::get_arr(d, "dims", p.dims);
  ep_py::get_arr(d, "strides1", p.strides1);
  ep_py::get_arr(d, "strides2", p.strides2);
  int64_t n_out = p.size, ext1 = p.size, ext2 = p.size;
  if (p.broadcast) {
    n_out = 1;
    ext1 = ext2 = 1;
    for (int i = 0; i < EP_BCAST_DIMS; ++i) {
      if (p.dims[i] <= 0 || p.strides1[i] < 0 || p.strides2[i] < 0) throw std::invalid_argument(std::string(fn) + ": bad shape");
      n_out *= p.dims[i];
      ext1 += (int64_t)(p.dims[i] - 1) * p.strides1[i];
      ext2 += (int64_t)(p.dims[i] - 1) * p.strides2[i];
    }
  }
  if (a.size() < ext1 || b.size() < ext2 || out.size() < n_out) throw std::invalid_argument(std::string(fn) + ": short buffer");
}

}  // namespace

EP_BIND(bind_elementwise) {
  m.def("ep_add_s8", [](py::dict d, py::dict, py::array a, py::array b, py::array out) {
    ep_add_s8_params p{};
    load_shape(d, p, a, b, out, "ep_add_s8");
    p.input1_offset = ep_py::get_i(d, "input1_offset");
    p.input2_offset = ep_py::get_i(d, "input2_offset");
    p.output_offset = ep_py::get_i(d, "output_offset");
    p.left_shift = ep_py::get_i(d, "left_shift");
    p.input1_multiplier = ep_py::get_i(d, "input1_multiplier");
    p.input1_shift = ep_py::get_i(d, "input1_shift");
    p.input2_multiplier = ep_py::get_i(d, "input2_multiplier");
    p.input2_shift = ep_py::get_i(d, "input2_shift");
    p.output_multiplier = ep_py::get_i(d, "output_multiplier");
    p.output_shift = ep_py::get_i(d, "output_shift");
    p.act_min = ep_py::get_i(d, "act_min");
    p.act_max = ep_py::get_i(d, "act_max");
    ep_py::check(ep_add_s8(&p, ep_py::ptr<int8_t>(a, "input1"), ep_py::ptr<int8_t>(b, "input2"),
                           ep_py::ptr<int8_t>(out, "output")),
                 "ep_add_s8");
  });
  m.def("ep_add_f32", [](py::dict d, py::dict, py::array a, py::array b, py::array out) {
    ep_add_f32_params p{};
    load_shape(d, p, a, b, out, "ep_add_f32");
    p.act_min = ep_py::get_f(d, "act_min");
    p.act_max = ep_py::get_f(d, "act_max");
    ep_py::check(ep_add_f32(&p, ep_py::ptr<float>(a, "input1"), ep_py::ptr<float>(b, "input2"),
                            ep_py::ptr<float>(out, "output")),
                 "ep_add_f32");
  });
  m.def("ep_mul_s8", [](py::dict d, py::dict, py::array a, py::array b, py::array out) {
    ep_mul_s8_params p{};
    load_shape(d, p, a, b, out, "ep_mul_s8");
    p.input1_offset = ep_py::get_i(d, "input1_offset");
    p.input2_offset = ep_py::get_i(d, "input2_offset");
    p.output_offset = ep_py::get_i(d, "output_offset");
    p.output_multiplier = ep_py::get_i(d, "output_multiplier");
    p.output_shift = ep_py::get_i(d, "output_shift");
    p.act_min = ep_py::get_i(d, "act_min");
    p.act_max = ep_py::get_i(d, "act_max");
    ep_py::check(ep_mul_s8(&p, ep_py::ptr<int8_t>(a, "input1"), ep_py::ptr<int8_t>(b, "input2"),
                           ep_py::ptr<int8_t>(out, "output")),
                 "ep_mul_s8");
  });
  m.def("ep_mul_f32", [](py::dict d, py::dict, py::array a, py::array b, py::array out) {
    ep_mul_f32_params p{};
    load_shape(d, p, a, b, out, "ep_mul_f32");
    p.act_min = ep_py::get_f(d, "act_min");
    p.act_max = ep_py::get_f(d, "act_max");
    ep_py::check(ep_mul_f32(&p, ep_py::ptr<float>(a, "input1"), ep_py::ptr<float>(b, "input2"),
                            ep_py::ptr<float>(out, "output")),
                 "ep_mul_f32");
  });
}
