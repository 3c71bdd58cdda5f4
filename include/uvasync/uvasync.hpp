// uvasync: asyncio's programming model in C++20, on libuv.
// This header brings in the whole public API.
#pragma once

#include "datagram.hpp"
#include "dns.hpp"
#include "endpoint.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "executor.hpp"
#include "run.hpp"
#include "signals.hpp"
#include "sleep.hpp"
#include "task.hpp"
#include "task_handle.hpp"
#include "timeouts.hpp"
