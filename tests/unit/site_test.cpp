#include "scenarios/site.hpp"

#include <gtest/gtest.h>
#include <libxml/HTMLparser.h>

#include <algorithm>
#include <boost/url.hpp>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <unordered_set>

#include "scenarios/checksum.hpp"

namespace rosetta {
namespace {

SiteParams params(int pages = 200, std::uint64_t seed = 1) {
    SiteParams p;
    p.seed = seed;
    p.pages = pages;
    p.authority = "127.0.0.1:8080";
    return p;
}

SiteParams with_faults(std::string_view faults, int pages = 200) {
    SiteParams p = params(pages);
    p.faults = parse_faults(faults);
    return p;
}

// What a crawler built from real parts sees: libxml2's HTML parser for the anchors and the
// base, Boost.URL to resolve them. The site's page_links() must agree with it exactly.
void collect_hrefs(xmlNode* node, std::vector<std::string>& anchors, std::string& base) {
    for (; node; node = node->next) {
        if (node->type == XML_ELEMENT_NODE) {
            std::string_view name(reinterpret_cast<const char*>(node->name));
            if (name == "a" || name == "base") {
                if (xmlChar* href = xmlGetProp(node, reinterpret_cast<const xmlChar*>("href"))) {
                    std::string value(reinterpret_cast<const char*>(href));
                    xmlFree(href);
                    if (name == "a")
                        anchors.push_back(value);
                    else if (base.empty())
                        base = value;
                }
            }
        }
        collect_hrefs(node->children, anchors, base);
    }
}

std::vector<std::string> parsed_links(const Site& site, std::string_view page_path, int id) {
    std::string html = site.page_html(id);
    std::string page_url = "http://" + site.params().authority + std::string(page_path);
    htmlDocPtr doc =
        htmlReadMemory(html.data(), static_cast<int>(html.size()), page_url.c_str(), "utf-8",
                       HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    EXPECT_NE(doc, nullptr);
    std::vector<std::string> anchors;
    std::string base_href;
    collect_hrefs(xmlDocGetRootElement(doc), anchors, base_href);
    xmlFreeDoc(doc);

    boost::urls::url base;
    EXPECT_TRUE(boost::urls::resolve(boost::urls::parse_uri(page_url).value(),
                                     boost::urls::parse_uri_reference(base_href).value(), base));
    std::vector<std::string> paths;
    std::set<std::string> seen;
    for (const std::string& href : anchors) {
        auto ref = boost::urls::parse_uri_reference(href);
        if (!ref) continue;
        boost::urls::url target;
        if (!boost::urls::resolve(base, *ref, target)) continue;
        if (target.scheme() != "http" || target.encoded_authority() != site.params().authority)
            continue;
        target.remove_fragment();
        std::string path(target.encoded_path());
        if (seen.insert(path).second) paths.push_back(path);
    }
    return paths;
}

TEST(Site, gives_every_page_exactly_page_bytes_bytes) {
    for (int links : {0, 1, 8, 30}) {
        for (int bytes : {min_page_bytes(links), min_page_bytes(links) + 1, 4097, 16384}) {
            SiteParams p = params(1000);
            p.links = links;
            p.page_bytes = bytes;
            p.authority = "127.0.0.1:65535";
            Site site(p);
            for (int id : {0, 1, 7, 999})
                EXPECT_EQ(site.page_html(id).size(), static_cast<std::size_t>(bytes));
        }
    }
}

TEST(Site, is_the_same_site_for_the_same_params) {
    Site a(with_faults("stall=0.2,reset=0.1")), b(with_faults("stall=0.2,reset=0.1"));
    for (int id = 0; id < 50; ++id) {
        EXPECT_EQ(a.page_html(id), b.page_html(id));
        EXPECT_EQ(a.page_links(id), b.page_links(id));
        for (int attempt = 1; attempt <= 3; ++attempt)
            EXPECT_EQ(a.fault("/p/" + std::to_string(id), attempt),
                      b.fault("/p/" + std::to_string(id), attempt));
    }
    EXPECT_EQ(a.download_paths(), b.download_paths());
}

TEST(Site, is_a_different_site_for_a_different_seed) {
    SiteParams other = with_faults("stall=0.5");
    other.seed = 2;
    Site a(with_faults("stall=0.5")), b(other);
    int same_html = 0, same_links = 0, same_faults = 0;
    for (int id = 0; id < 50; ++id) {
        same_html += a.page_html(id) == b.page_html(id);
        same_links += a.page_links(id) == b.page_links(id);
        same_faults +=
            a.fault("/p/" + std::to_string(id), 1) == b.fault("/p/" + std::to_string(id), 1);
    }
    EXPECT_EQ(same_html, 0);
    EXPECT_LT(same_links, 2);
    EXPECT_LT(same_faults, 40);  // two fair coins agree half the time
    EXPECT_NE(a.download_paths(), b.download_paths());
}

TEST(Site, serves_page_zero_at_the_root) {
    Site site(params());
    EXPECT_EQ(site.page_of("/"), 0);
    EXPECT_EQ(site.page_of("/p/0"), 0);
    EXPECT_EQ(site.page_of("/p/199"), 199);
    for (std::string_view path : {"/p/200", "/p/-1", "/p/01", "/p/", "/p/1x", "/p/1/", "/q/1", "",
                                  "/p/1?x=1", "/p/99999999999", "p/1", "/__stats"})
        EXPECT_EQ(site.page_of(path), std::nullopt) << path;
}

TEST(Site, checksum_is_the_checksum_of_the_body) {
    Site site(params());
    for (int id : {0, 5, 199}) EXPECT_EQ(site.page_checksum(id), Checksum::of(site.page_html(id)));
    EXPECT_NE(site.page_checksum(1), site.page_checksum(2));
}

TEST(Site, links_only_to_pages_inside_the_site) {
    Site site(params());
    for (int id = 0; id < 200; ++id) {
        std::vector<std::string> links = site.page_links(id);
        EXPECT_FALSE(links.empty());
        EXPECT_LE(links.size(), 8u);
        std::set<std::string> unique(links.begin(), links.end());
        EXPECT_EQ(unique.size(), links.size()) << "duplicates on page " << id;
        for (const std::string& link : links) {
            EXPECT_TRUE(link.starts_with("/p/")) << link;
            EXPECT_TRUE(site.page_of(link).has_value()) << link;
        }
    }
}

TEST(Site, never_links_from_comments_scripts_or_other_hosts) {
    Site site(params());
    for (int id = 0; id < 200; ++id) {
        std::string html = site.page_html(id);
        std::string comment_target = "/p/" + std::to_string(200 + id + 1'000'000);
        std::string script_target = "/p/" + std::to_string(200 + id + 2'000'000);
        ASSERT_NE(html.find("<!-- retired: <a href=\"" + comment_target), std::string::npos);
        ASSERT_NE(html.find("<script>var next = '<a href=\"" + script_target), std::string::npos);
        ASSERT_NE(html.find("href=\"http://offsite-"), std::string::npos);
        ASSERT_NE(html.find("href=\"//offsite-"), std::string::npos);
        for (const std::string& link : site.page_links(id)) {
            EXPECT_NE(link, comment_target);
            EXPECT_NE(link, script_target);
        }
    }
}

TEST(Site, links_are_exactly_what_an_html_parser_and_url_resolver_find) {
    Site site(params());
    for (int id = 0; id < 200; ++id) {
        EXPECT_EQ(parsed_links(site, "/p/" + std::to_string(id), id), site.page_links(id)) << id;
        if (id == 0) {
            EXPECT_EQ(parsed_links(site, "/", 0), site.page_links(0));
        }
    }
}

TEST(Site, shows_every_link_shape_in_a_200_page_site) {
    Site site(params());
    std::string all;
    for (int id = 0; id < 200; ++id) all += site.page_html(id);
    auto occurs = [&](std::string_view needle) { return all.find(needle) != std::string::npos; };
    EXPECT_TRUE(occurs("<li><a href=\"./"));
    EXPECT_TRUE(occurs("<li><a href=\"../p/"));
    EXPECT_TRUE(occurs("<li><a href=\"/p/"));
    EXPECT_TRUE(occurs("<li><a href=\"http://127.0.0.1:8080/p/"));
    EXPECT_TRUE(occurs("#sec"));
    EXPECT_TRUE(occurs("<li><a href=\"/p/&#"));
    EXPECT_TRUE(occurs("<li><a href=\"&#x2F;p&#x2F;"));
    EXPECT_TRUE(occurs("<li><A HREF="));
    EXPECT_TRUE(occurs("<li><a class='nav' href='"));
    bool bare_relative = false;
    for (char digit = '0'; digit <= '9'; ++digit) {
        std::string needle = std::string("<li><a href=\"") + digit;
        for (std::size_t at = all.find(needle); at != std::string::npos;
             at = all.find(needle, at + 1))
            if (all.find('"', at + needle.size()) < all.find('#', at + needle.size()))
                bare_relative = true;
    }
    EXPECT_TRUE(bare_relative);
    EXPECT_TRUE(occurs("<base href=\"/p/\">"));
}

TEST(Site, repeats_an_earlier_target_in_another_shape_on_every_page) {
    Site site(params());
    for (int id = 0; id < 50; ++id) {
        std::string html = site.page_html(id);
        std::size_t items = 0;
        for (std::size_t at = html.find("<li>"); at != std::string::npos;
             at = html.find("<li>", at + 1))
            ++items;
        EXPECT_EQ(items, 9u);  // 8 links + the duplicate
    }
}

TEST(Site, refuses_a_page_too_small_for_its_skeleton) {
    SiteParams p = params();
    p.links = 8;
    p.page_bytes = 400;
    EXPECT_THROW(Site(p).page_html(0), std::logic_error);
}

TEST(Site, draws_faults_at_their_rates) {
    Site site(
        with_faults("reset=0.01,stall=0.02,status=0.05,notfound=0.03,truncate=0.04,"
                    "malformed=0.015,slow=0.1"));
    std::map<Fault, int> counts;
    constexpr int draws = 100'000;
    for (int i = 0; i < draws; ++i)
        counts[site.fault("/p/" + std::to_string(i % 5000), 1 + i / 5000)]++;
    const std::map<Fault, double> rates = {{Fault::reset, 0.01},    {Fault::stall, 0.02},
                                           {Fault::status, 0.05},   {Fault::notfound, 0.03},
                                           {Fault::truncate, 0.04}, {Fault::malformed, 0.015},
                                           {Fault::slow, 0.1},      {Fault::none, 0.735}};
    for (auto [fault, rate] : rates) {
        double sigma = std::sqrt(draws * rate * (1 - rate));
        EXPECT_NEAR(counts[fault], draws * rate, 5 * sigma) << to_string(fault);
    }
}

TEST(Site, faults_every_attempt_at_rate_one_and_never_the_stats_path) {
    Site site(with_faults("truncate=1"));
    for (int attempt = 1; attempt < 20; ++attempt) {
        EXPECT_EQ(site.fault("/p/3", attempt), Fault::truncate);
        EXPECT_EQ(site.fault("/nothing", attempt), Fault::truncate);
        EXPECT_EQ(site.fault("/__stats", attempt), Fault::none);
    }
    EXPECT_EQ(Site(params()).fault("/p/3", 1), Fault::none);
}

// The first page path whose first faults are `first` then `second`.
std::string path_with(const Site& site, Fault first, Fault second) {
    for (int id = 0; id < site.params().pages; ++id) {
        std::string path = "/p/" + std::to_string(id);
        if (site.fault(path, 1) == first && site.fault(path, 2) == second) return path;
    }
    ADD_FAILURE() << "no page with " << to_string(first) << " then " << to_string(second);
    return "/p/0";
}

TEST(Site, expects_a_retry_after_a_stall_and_then_the_page) {
    Site site(with_faults("stall=0.5"));
    std::string path = path_with(site, Fault::stall, Fault::none);
    ExpectedUrl e = site.expected(path, 2);
    ASSERT_EQ(e.attempts.size(), 2u);
    EXPECT_EQ(e.attempts[0].outcome, Outcome::timeout);
    EXPECT_EQ(e.attempts[0].status, 0);
    EXPECT_EQ(e.attempts[1].outcome, Outcome::ok);
    EXPECT_EQ(e.final_outcome, Outcome::ok);
    EXPECT_EQ(e.final_status, 200);
    EXPECT_EQ(e.bytes, 16384u);
    EXPECT_EQ(e.checksum, site.page_checksum(*site.page_of(path)));

    ExpectedUrl no_retry = site.expected(path, 0);
    ASSERT_EQ(no_retry.attempts.size(), 1u);
    EXPECT_EQ(no_retry.final_outcome, Outcome::timeout);
    EXPECT_EQ(no_retry.bytes, 0u);
}

TEST(Site, expects_three_503s_to_end_in_a_503_with_two_retries) {
    ExpectedUrl e = Site(with_faults("status=1")).expected("/p/4", 2);
    ASSERT_EQ(e.attempts.size(), 3u);
    for (const ExpectedAttempt& a : e.attempts) {
        EXPECT_EQ(a.outcome, Outcome::http_error);
        EXPECT_EQ(a.status, 503);
    }
    EXPECT_EQ(e.final_outcome, Outcome::http_error);
    EXPECT_EQ(e.final_status, 503);
}

TEST(Site, expects_a_404_to_be_final_at_once) {
    ExpectedUrl notfound = Site(with_faults("notfound=1")).expected("/p/4", 5);
    ASSERT_EQ(notfound.attempts.size(), 1u);
    EXPECT_EQ(notfound.final_outcome, Outcome::http_error);
    EXPECT_EQ(notfound.final_status, 404);

    ExpectedUrl missing = Site(params()).expected("/p/200", 5);
    ASSERT_EQ(missing.attempts.size(), 1u);
    EXPECT_EQ(missing.final_status, 404);
    ExpectedUrl slow_missing = Site(with_faults("slow=1")).expected("/nope", 5);
    EXPECT_EQ(slow_missing.final_status, 404);
}

TEST(Site, expects_each_fault_class_as_its_outcome) {
    const std::vector<std::pair<std::string_view, Outcome>> cases = {
        {"reset=1", Outcome::reset},
        {"stall=1", Outcome::timeout},
        {"truncate=1", Outcome::truncated},
        {"malformed=1", Outcome::malformed},
        {"slow=1", Outcome::ok}};
    for (auto [faults, outcome] : cases) {
        ExpectedUrl e = Site(with_faults(faults)).expected("/", 1);
        EXPECT_EQ(e.final_outcome, outcome) << faults;
        EXPECT_EQ(e.attempts.size(), outcome == Outcome::ok ? 1u : 2u) << faults;
    }
}

TEST(Site, reaches_everything_linked_when_nothing_fails) {
    Site site(params(50));
    std::vector<std::string> reached = site.reachable("/", 2);
    ASSERT_FALSE(reached.empty());
    EXPECT_EQ(reached.front(), "/");
    std::set<std::string> unique(reached.begin(), reached.end());
    EXPECT_EQ(unique.size(), reached.size());
    // Closed under page_links, and nothing in it that no reached page links to.
    std::set<std::string> linked = {"/"};
    for (const std::string& path : reached)
        for (const std::string& link : site.page_links(*site.page_of(path))) {
            EXPECT_TRUE(unique.contains(link)) << link;
            linked.insert(link);
        }
    EXPECT_EQ(linked, unique);
}

TEST(Site, does_not_expand_pages_that_fail) {
    Site site(with_faults("notfound=0.3,status=0.3"));
    std::vector<std::string> reached = site.reachable("/", 1);
    std::set<std::string> unique(reached.begin(), reached.end());
    std::set<std::string> linked_from_ok = {"/"};
    int failed = 0;
    for (const std::string& path : reached) {
        if (site.expected(path, 1).final_outcome != Outcome::ok) {
            ++failed;
            continue;
        }
        for (const std::string& link : site.page_links(*site.page_of(path)))
            linked_from_ok.insert(link);
    }
    EXPECT_GT(failed, 0);
    EXPECT_EQ(linked_from_ok, unique);
    EXPECT_EQ(Site(with_faults("notfound=1")).reachable("/", 2), std::vector<std::string>{"/"});
}

TEST(Site, downloads_every_page_once_in_a_shuffled_order) {
    Site site(params(1000));
    std::vector<std::string> paths = site.download_paths();
    ASSERT_EQ(paths.size(), 1000u);
    std::set<std::string> unique(paths.begin(), paths.end());
    EXPECT_EQ(unique.size(), 1000u);
    for (const std::string& path : paths) EXPECT_TRUE(site.page_of(path).has_value());
    int in_place = 0;
    for (int id = 0; id < 1000; ++id)
        in_place += paths[static_cast<std::size_t>(id)] == "/p/" + std::to_string(id);
    EXPECT_LT(in_place, 20);
}

}  // namespace
}  // namespace rosetta
