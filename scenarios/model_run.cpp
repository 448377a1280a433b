#include "scenarios/model.hpp"

#include "scenarios/site.hpp"
#include "scenarios/url.hpp"

namespace rosetta {

std::string ModelRun::url_of(std::string_view path) const { return absolute_url(origin.authority, path); }

std::vector<std::string> ModelRun::download_urls() const {
    // The order is the site's (seeded), so every model fetches the same sequence.
    Site site(SiteParams::from(spec, origin.authority));
    std::vector<std::string> urls;
    for (const std::string& path : site.download_paths()) urls.push_back(url_of(path));
    return urls;
}

std::string ModelRun::start_url() const { return url_of(spec.start); }

}  // namespace rosetta
