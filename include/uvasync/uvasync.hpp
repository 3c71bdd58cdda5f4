// uvasync: asyncio's programming model in C++20, on libuv.
// This header brings in the whole public API.
#pragma once

#include "barrier.hpp"
#include "condition.hpp"
#include "datagram.hpp"
#include "dns.hpp"
#include "endpoint.hpp"
#include "errors.hpp"
#include "event.hpp"
#include "event_loop.hpp"
#include "executor.hpp"
#include "lock.hpp"
#include "queue.hpp"
#include "run.hpp"
#include "scoped_guard.hpp"
#include "semaphore.hpp"
#include "signals.hpp"
#include "sleep.hpp"
#include "task.hpp"
#include "task_handle.hpp"
#include "timeouts.hpp"
