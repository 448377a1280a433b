#include "scenarios/verify.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <set>

using namespace rosetta;

namespace {

const std::string authority = "127.0.0.1:4242";

Site make_site(const char* faults = "none", int pages = 60) {
    Spec spec;
    spec.pages = pages;
    spec.links = 4;
    spec.page_bytes = 2048;
    spec.faults = parse_faults(faults);
    return Site(SiteParams::from(spec, authority));
}

// The records a correct client produces for path: one per expected attempt.
void add_correct(const Site& site, const std::string& path, int retries, std::vector<Record>& out) {
    ExpectedUrl want = site.expected(path, retries);
    for (std::size_t i = 0; i < want.attempts.size(); ++i) {
        Record r;
        r.url = "http://" + authority + path;
        r.attempt = static_cast<int>(i) + 1;
        r.outcome = want.attempts[i].outcome;
        r.status = want.attempts[i].status;
        if (r.outcome == Outcome::ok) {
            r.bytes = want.bytes;
            r.checksum = want.checksum;
        }
        out.push_back(r);
    }
}

std::vector<Record> correct_download(const Site& site, int retries) {
    std::vector<Record> records;
    for (const std::string& path : site.download_paths()) add_correct(site, path, retries, records);
    return records;
}

// A correct crawl with a budget: breadth-first, stopping after `budget` URLs.
std::vector<Record> correct_crawl(const Site& site, int retries, std::size_t budget) {
    std::vector<Record> records;
    std::deque<std::string> queue{"/"};
    std::set<std::string> seen{"/"};
    while (!queue.empty()) {
        std::string path = queue.front();
        queue.pop_front();
        add_correct(site, path, retries, records);
        if (site.expected(path, retries).final_outcome != Outcome::ok) continue;
        for (const std::string& link : site.page_links(*site.page_of(path)))
            if (seen.size() < budget && seen.insert(link).second) queue.push_back(link);
    }
    return records;
}

Verdict check(const Site& site, Scenario scenario, const std::vector<Record>& records,
              std::optional<int> max_pages = std::nullopt,
              const std::map<std::string, std::uint64_t>* counts = nullptr,
              std::uint64_t other_paths = 0) {
    return verify({site, scenario, 2, max_pages, "/", records, counts, other_paths});
}

bool mentions(const Verdict& v, const std::string& text) {
    for (const std::string& m : v.mismatches)
        if (m.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST(Verify, accepts_a_correct_download_with_faults) {
    Site site = make_site(
        "reset=0.05,stall=0.05,status=0.05,notfound=0.05,truncate=0.05,malformed=0.05,slow=0.05");
    Verdict v = check(site, Scenario::download, correct_download(site, 2));
    EXPECT_TRUE(v.verified) << (v.mismatches.empty() ? "" : v.mismatches[0]);
    EXPECT_EQ(v.mismatch_count, 0u);
}

TEST(Verify, accepts_a_correct_crawl_with_and_without_a_budget) {
    Site site = make_site("status=0.1,notfound=0.05");
    Verdict whole = check(site, Scenario::crawl, correct_crawl(site, 2, 1'000'000));
    EXPECT_TRUE(whole.verified) << (whole.mismatches.empty() ? "" : whole.mismatches[0]);
    Verdict budgeted = check(site, Scenario::crawl, correct_crawl(site, 2, 10), 10);
    EXPECT_TRUE(budgeted.verified) << (budgeted.mismatches.empty() ? "" : budgeted.mismatches[0]);
}

TEST(Verify, names_a_page_that_was_never_fetched) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    std::string missing = records.back().url.substr(("http://" + authority).size());
    records.pop_back();
    Verdict v = check(site, Scenario::download, records);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, missing + " was never fetched"));
}

TEST(Verify, names_an_attempt_counted_twice) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    records.push_back(records.front());
    Verdict v = check(site, Scenario::download, records);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, "counted twice"));
}

TEST(Verify, names_a_wrong_outcome_and_a_corrupt_body) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    records[0].outcome = Outcome::timeout;
    records[1].checksum ^= 1;
    Verdict v = check(site, Scenario::download, records);
    EXPECT_FALSE(v.verified);
    EXPECT_EQ(v.mismatch_count, 2u);
    EXPECT_TRUE(mentions(v, "expected ok, got timeout"));
    EXPECT_TRUE(mentions(v, "checksum"));
}

TEST(Verify, counts_the_attempts_that_ended_otherwise_than_the_site_answers_by_outcome) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    records[0].outcome = Outcome::timeout;
    records[1].outcome = Outcome::timeout;
    records[2].outcome = Outcome::connect_error;
    records[3].checksum ^= 1;  // a corrupt body is a bug, not an outcome the model got
    Verdict v = check(site, Scenario::download, records);
    EXPECT_FALSE(v.verified);
    const std::map<std::string, std::size_t> want = {{"timeout", 2}, {"connect_error", 1}};
    EXPECT_EQ(v.unexpected, want);
    EXPECT_TRUE(check(site, Scenario::download, correct_download(site, 2)).unexpected.empty());
}

TEST(Verify, names_a_retry_that_should_not_have_happened_and_one_that_was_missing) {
    Site site = make_site("notfound=0.3,status=0.3");
    std::vector<Record> records = correct_download(site, 2);
    // Drop the last attempt of a URL that needed more than one.
    for (std::size_t i = 1; i < records.size(); ++i)
        if (records[i].attempt > 1 && (i + 1 == records.size() || records[i + 1].attempt == 1)) {
            records.erase(records.begin() + static_cast<long>(i));
            break;
        }
    Verdict v = check(site, Scenario::download, records);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, "attempts, expected"));
}

TEST(Verify, names_an_off_site_fetch_and_a_url_outside_the_reachable_set) {
    Site site = make_site();
    std::vector<Record> records = correct_crawl(site, 2, 1'000'000);
    Record off = records.front();
    off.url = "http://offsite-1.example/p/1";
    records.push_back(off);
    Record hidden = records.front();
    hidden.url = "http://" + authority + "/p/1000001";
    hidden.outcome = Outcome::http_error;
    hidden.status = 404;
    records.push_back(hidden);
    Verdict v = check(site, Scenario::crawl, records);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, "not on the origin"));
    EXPECT_TRUE(mentions(v, "/p/1000001 was fetched but is not reachable"));
}

TEST(Verify, names_a_budgeted_crawl_that_fetched_an_undiscovered_page) {
    Site site = make_site("none", 200);
    std::vector<Record> records = correct_crawl(site, 2, 10);
    // Swap the last URL for a page nobody in the fetched set links to.
    std::set<std::string> linked;
    for (const Record& r : records)
        for (const std::string& l :
             site.page_links(*site.page_of(r.url.substr(("http://" + authority).size()))))
            linked.insert(l);
    for (int id = 0; id < 200; ++id) {
        std::string path = "/p/" + std::to_string(id);
        if (linked.count(path) || site.reachable("/", 2).empty()) continue;
        records.pop_back();
        add_correct(site, path, 2, records);
        break;
    }
    Verdict v = check(site, Scenario::crawl, records, 10);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, "no fetched page links to it"));
}

TEST(Verify, names_a_path_the_origin_served_more_often_than_recorded) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    std::map<std::string, std::uint64_t> counts;
    for (const std::string& path : site.download_paths()) counts[path] = 1;
    EXPECT_TRUE(check(site, Scenario::download, records, std::nullopt, &counts).verified);
    counts["/p/3"] = 2;
    Verdict v = check(site, Scenario::download, records, std::nullopt, &counts);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v, "the origin served /p/3 2 times"));
}

TEST(Verify, compares_the_origins_bucket_of_paths_outside_the_site_with_their_attempts) {
    Site site = make_site();
    std::vector<Record> records = correct_download(site, 2);
    std::map<std::string, std::uint64_t> counts;
    for (const std::string& path : site.download_paths()) counts[path] = 1;
    Verdict v = check(site, Scenario::download, records, std::nullopt, &counts, 3);
    EXPECT_FALSE(v.verified);
    EXPECT_TRUE(mentions(v,
                         "the origin served 3 requests for paths outside the site, but the "
                         "records show 0 attempts"));
    // Recorded, they are wrong fetches of the download, but not unrecorded ones.
    for (int i = 0; i < 3; ++i) add_correct(site, "/junk" + std::to_string(i), 2, records);
    v = check(site, Scenario::download, records, std::nullopt, &counts, 3);
    EXPECT_FALSE(mentions(v, "paths outside the site"));
}
