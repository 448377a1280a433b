// The coroutine runtime on the reactor, all of it: Task (task.hpp), the loop and TaskGroup
// (loop.hpp, where the overview is), the waits on the kernel (io.hpp) and on other strands
// (sync.hpp). CPU work off the loop is executor.hpp (it brings TBB).
#pragma once

#include "models/stackless-coroutines/io.hpp"
#include "models/stackless-coroutines/loop.hpp"
#include "models/stackless-coroutines/sync.hpp"
#include "models/stackless-coroutines/task.hpp"
