-- wrk script: cycle through /p/0 .. /p/N-1 (N from the PAGES environment variable), so wrk
-- touches the same pages as a download run instead of one page that stays in the CPU cache.
--   PAGES=15000 wrk -t1 -c1 -d2s -s bench/wrk/pages.lua http://127.0.0.1:PORT
local pages = tonumber(os.getenv("PAGES") or "1000")
local next_page = 0
request = function()
    local path = "/p/" .. next_page
    next_page = (next_page + 7919) % pages  -- a prime stride: every page once per cycle
    return wrk.format("GET", path)
end
