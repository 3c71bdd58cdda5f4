// shield: what happens to a shielded task's failure once its waiter is gone.
#include <uvasync/shield.hpp>
#include <uvasync/detail/loop_core.hpp>

namespace uvasync::detail {

void report_if_shielded_task_fails(task_state_base* inner) {
    task_handle<> keep = task_handle<>::adopt(inner);
    inner->add_ref();
    add_done_callback(inner, [keep] {
        task_state_base* s = keep.state();
        // Somebody else awaited it and saw the exception, or an earlier
        // shield's callback reported it already: nothing is lost.
        if (s->status != task_status::finished || !s->error() || s->retrieved) return;
        s->retrieved = true;
        loop_core::forget_failed(s);
        s->loop->report_exception("exception in shielded task", s->error(), s->name());
    });
}

} // namespace uvasync::detail
