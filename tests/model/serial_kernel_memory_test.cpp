// kernel_kib is system-wide: another test ending its threads meanwhile would shrink it, so this
// file's tests run alone (the serial_ prefix: RUN_SERIAL, tests/CMakeLists.txt).
#include <nlohmann/json.hpp>

#include "support.hpp"

using namespace rosetta;
using rosetta::test::run_binary;

// RSS never shows a thread's kernel stack; kernel_kib.stack does: every request in flight holds
// a blocked thread, so the kernel stacks grow by at least 8 KiB for each (16 KiB on x86-64;
// half is asserted, the figure being system-wide and other threads may end meanwhile). Against
// the in-flight count the origin saw, not C: a sanitizer's slow thread starts hold fewer.
TEST(KernelMemory, counts_the_kernel_stacks_of_a_models_threads_which_rss_does_not) {
    if (!test::model_info("thread-per-task").built) GTEST_SKIP() << "thread-per-task not built";
    test::Ran ran = run_binary(
        "rosetta", {"run", "--model", "thread-per-task", "--scenario", "download", "--pages", "400",
                    "--concurrency", "200", "--latency-ms", "500", "--json"});
    ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    const int inflight = r["peak_inflight"].get<int>();
    EXPECT_GE(inflight, 50);
    EXPECT_GE(r["kernel_kib"]["stack"].get<long>(), inflight * 8) << r["kernel_kib"].dump();
}
