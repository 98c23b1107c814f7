// cxx.cc: libspate from C++, run to completion with spate_run(). Same arguments and output as
// poll.c.  Build: c++ cxx.cc $(pkg-config --cflags --libs spate)
#include <spate.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace
{

struct Tally {
    unsigned long ok = 0;
    unsigned long long bytes = 0;
};

// The engine as an owning pointer: destroyed (pending requests canceled) however main returns.
struct EngineDeleter {
    void operator()(spate_engine *e) const { spate_engine_destroy(e); }
};
using Engine = std::unique_ptr<spate_engine, EngineDeleter>;

Engine make_engine()
{
    spate_config cfg;
    spate_config_init(&cfg);
    spate_engine *e = nullptr;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0)
        std::fprintf(stderr, "spate: %s\n", err);
    return Engine(e);
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> urls;
    if (argc == 4 && !std::strcmp(argv[1], "-n")) {
        unsigned long n = std::strtoul(argv[2], nullptr, 10);
        for (unsigned long i = 0; i < n; i++)
            urls.push_back(argv[3] + std::to_string(i));
    } else if (argc >= 2 && std::strcmp(argv[1], "-n")) {
        urls.assign(argv + 1, argv + argc);
    }
    if (urls.empty()) {
        std::fprintf(stderr, "usage: %s URL... | %s -n COUNT PREFIX\n", argv[0], argv[0]);
        return 2;
    }
    Engine engine = make_engine();
    if (!engine) return 1;
    Tally tally;
    // A captureless lambda converts to the C callback; the tally travels in `user`.
    auto on_done = [](void *user, const spate_response *r) {
        Tally *t = static_cast<Tally *>(user);
        if (r->error != SPATE_OK) {
            std::fprintf(stderr, "%s: %s\n", spate_error_kind_name(r->error), r->message);
            return;
        }
        t->ok++;
        t->bytes += r->body_bytes;
    };
    for (const std::string &url : urls) {
        spate_request req{}; // zero: GET, no headers, no body
        req.url = url.c_str();
        req.done = on_done;
        req.user = &tally;
        char err[256];
        if (spate_submit(engine.get(), &req, err, sizeof err) < 0)
            std::fprintf(stderr, "%s: %s\n", url.c_str(), err);
    }
    int rc = spate_run(engine.get());
    if (rc < 0) std::fprintf(stderr, "spate: %s\n", spate_strerror(rc));
    std::printf("fetched %lu of %zu URLs, %llu body bytes\n", tally.ok, urls.size(), tally.bytes);
    return tally.ok == urls.size() ? 0 : 1;
}
