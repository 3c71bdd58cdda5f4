// gather / gather_settled: asyncio.gather, without and with
// return_exceptions=True.
//
//     auto [a, b] = co_await gather(fetch(1), fetch(2));        // tuple
//     std::vector<int> all = co_await gather(std::move(tasks)); // vector
//     auto outcomes = co_await gather_settled(std::move(tasks)); // outcome<T>s
//
// Each task<T> argument is scheduled as a task of its own when the gather
// starts; task_handle<T> arguments are awaited. Results come in argument
// order; a void child gives std::monostate.
//
// gather: the first child to fail (or be cancelled) ends the gather with its
// exception at once; the other children keep running, and their later
// exceptions count as retrieved. gather_settled waits for every child and
// returns an outcome<T> each; a cancelled child's outcome holds its
// cancelled_error. Cancelling the awaiting task cancels every child still
// running; the gather then ends with cancelled_error.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "detail/gather_op.hpp"
#include "event_loop.hpp"
#include "outcome.hpp"
#include "task.hpp"
#include "task_handle.hpp"

namespace uvasync {

namespace detail {

template <class T> struct is_task_handle : std::false_type {};
template <class T> struct is_task_handle<task_handle<T>> : std::true_type {};

// Any other awaitable of the library runs as a task of its own.
template <class A> struct gather_arg;
template <class A>
    requires(awaitable<A> && !is_task<A>::value && !is_task_handle<A>::value)
struct gather_arg<A> {
    using type = await_result_t<A>;
    static constexpr bool owned = true;
    static task_handle<type> schedule(A&& a) { return create_task(as_task(std::move(a))); }
};
template <class T> struct gather_arg<task<T>> {
    using type = T;
    static constexpr bool owned = true; // only we hold it: move the value out
    static task_handle<T> schedule(task<T>&& t) { return create_task(std::move(t)); }
};
template <class T> struct gather_arg<task_handle<T>> {
    using type = T;
    static constexpr bool owned = false;
    static task_handle<T> schedule(task_handle<T>&& h) {
        if (!h.valid()) throw std::invalid_argument("gather: empty task_handle");
        return std::move(h);
    }
};

template <class A>
concept gatherable = requires { typename gather_arg<std::remove_cvref_t<A>>::type; };

// A task<T> argument is moved in (it is awaited once); handles are shared.
template <class A>
inline constexpr bool movable_gather_arg = !std::is_lvalue_reference_v<A> || !is_task<std::remove_cvref_t<A>>::value;

template <class V> struct is_task_vector : std::false_type {};
template <class T> struct is_task_vector<std::vector<task<T>>> : std::true_type {};

template <class T> using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T, bool Owned> gather_value_t<T> gather_value(task_state_base& s) {
    if constexpr (std::is_void_v<T>) {
        return {};
    } else if constexpr (Owned || !std::is_copy_constructible_v<T>) {
        return std::move(static_cast<task_state<T>&>(s).value());
    } else {
        return static_cast<task_state<T>&>(s).value();
    }
}

template <class T, bool Owned> outcome<T> settled_value(task_state_base& s) {
    if (std::exception_ptr e = s.take_error()) return outcome<T>(std::move(e));
    if constexpr (std::is_void_v<T>) {
        return outcome<void>();
    } else {
        return outcome<T>(gather_value<T, Owned>(s));
    }
}

template <bool Settle, class... A> auto gather_tuple(A... args) -> task<std::conditional_t<Settle,
    std::tuple<outcome<typename gather_arg<A>::type>...>, std::tuple<gather_value_t<typename gather_arg<A>::type>...>>> {
    // Braces: scheduled left to right, so the children start in argument order.
    std::tuple<task_handle<typename gather_arg<A>::type>...> handles{gather_arg<A>::schedule(std::move(args))...};
    gather_op op(Settle);
    std::apply([&](auto&... h) { (op.add(h), ...); }, handles);
    co_await op;
    auto collect = [](auto&... h) {
        if constexpr (Settle) {
            return std::tuple<outcome<typename gather_arg<A>::type>...>(
                settled_value<typename gather_arg<A>::type, gather_arg<A>::owned>(*h.state())...);
        } else {
            return std::tuple<gather_value_t<typename gather_arg<A>::type>...>(
                gather_value<typename gather_arg<A>::type, gather_arg<A>::owned>(*h.state())...);
        }
    };
    co_return std::apply(collect, handles);
}

template <bool Settle, class T, bool Owned>
task<std::vector<std::conditional_t<Settle, outcome<T>, gather_value_t<T>>>> gather_vector(std::vector<task_handle<T>> handles) {
    std::vector<std::conditional_t<Settle, outcome<T>, gather_value_t<T>>> results;
    if (handles.empty()) co_return results;
    gather_op op(Settle);
    for (auto& h : handles) {
        if (!h.valid()) throw std::invalid_argument("gather: empty task_handle");
        op.add(h);
    }
    co_await op;
    results.reserve(handles.size());
    for (auto& h : handles) {
        if constexpr (Settle) results.push_back(settled_value<T, Owned>(*h.state()));
        else results.push_back(gather_value<T, Owned>(*h.state()));
    }
    co_return results;
}

template <class T> std::vector<task_handle<T>> schedule_all(std::vector<task<T>>& tasks) {
    std::vector<task_handle<T>> handles;
    handles.reserve(tasks.size());
    for (auto& t : tasks) handles.push_back(create_task(std::move(t)));
    return handles;
}

template <bool Settle, class T> auto gather_tasks(std::vector<task<T>> tasks)
    -> task<std::vector<std::conditional_t<Settle, outcome<T>, gather_value_t<T>>>> {
    std::vector<task_handle<T>> handles = schedule_all(tasks);
    co_return co_await gather_vector<Settle, T, true>(std::move(handles));
}

} // namespace detail

// asyncio.gather(a, b, ...): a tuple of the results in argument order.
template <class... A>
    requires(sizeof...(A) > 0 && (detail::gatherable<A> && ...))
auto gather(A&&... aws) {
    static_assert((detail::movable_gather_arg<A> && ...),
                  "gather: a task<T> is awaited once and moved in: gather(std::move(t)) or gather(f())");
    return detail::gather_tuple<false>(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}
// asyncio.gather(*tasks): a vector of the results, in order.
template <class V>
    requires detail::is_task_vector<std::remove_cvref_t<V>>::value
auto gather(V&& tasks) {
    static_assert(!std::is_lvalue_reference_v<V>,
                  "gather(tasks): tasks are move-only, the vector is moved in: gather(std::move(tasks))");
    return detail::gather_tasks<false>(std::move(tasks));
}
template <class T> auto gather(std::vector<task_handle<T>> handles) {
    return detail::gather_vector<false, T, false>(std::move(handles));
}

// asyncio.gather(..., return_exceptions=True): an outcome<T> per child.
template <class... A>
    requires(sizeof...(A) > 0 && (detail::gatherable<A> && ...))
auto gather_settled(A&&... aws) {
    static_assert((detail::movable_gather_arg<A> && ...),
                  "gather_settled: a task<T> is awaited once and moved in: gather_settled(std::move(t)) or gather_settled(f())");
    return detail::gather_tuple<true>(std::remove_cvref_t<A>(std::forward<A>(aws))...);
}
template <class V>
    requires detail::is_task_vector<std::remove_cvref_t<V>>::value
auto gather_settled(V&& tasks) {
    static_assert(!std::is_lvalue_reference_v<V>,
                  "gather_settled(tasks): tasks are move-only, the vector is moved in: gather_settled(std::move(tasks))");
    return detail::gather_tasks<true>(std::move(tasks));
}
// Readable mistake: gather_settled(tasks) of a vector variable (as gather).
template <class T> task<std::vector<outcome<T>>> gather_settled(const std::vector<task<T>>&) {
    static_assert(!std::is_same_v<T, T>,
                  "gather_settled(tasks): tasks are move-only, the vector is moved in: gather_settled(std::move(tasks))");
    return {};
}
template <class T> auto gather_settled(std::vector<task_handle<T>> handles) {
    return detail::gather_vector<true, T, false>(std::move(handles));
}

} // namespace uvasync
