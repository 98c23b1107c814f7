/* own_llhttp.c: a program that carries its own llhttp (built lenient, without strict mode) and
 * also links libspate. spate must keep using its own strict parser: the program's llhttp_init
 * counts its calls, and the program parses with its own llhttp once, so a count above 1 means
 * spate called into the program's copy.
 *
 * Usage: own_llhttp URL. Parses a response with junk instead of the CRLF after a chunk (which
 * lenient llhttp accepts and strict mode refuses), fetches URL with spate and prints one line,
 * "own_parse=ok|error own_init_calls=N status=S error=KIND".
 * t_library.sh builds it with api.c compiled under -Dllhttp_init=own_llhttp_init_real. */
#include <llhttp.h>
#include <spate.h>
#include <stdio.h>
#include <string.h>

void own_llhttp_init_real(llhttp_t *parser, llhttp_type_t type, const llhttp_settings_t *settings);
void llhttp_init(llhttp_t *parser, llhttp_type_t type, const llhttp_settings_t *settings);

static unsigned init_calls;

/* The program's own llhttp_init: the name a program-wide llhttp would interpose. */
void llhttp_init(llhttp_t *parser, llhttp_type_t type, const llhttp_settings_t *settings)
{
    init_calls++;
    own_llhttp_init_real(parser, type, settings);
}

static const char lenient_only[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "3\r\nabcXX0\r\n\r\n";

struct result {
    int status;
    enum spate_error_kind error;
};

static void on_done(void *user, const struct spate_response *r)
{
    struct result *res = user;
    res->status = r->status;
    res->error = r->error;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 2;
    }
    llhttp_t p;
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    llhttp_init(&p, HTTP_RESPONSE, &s);
    int own = llhttp_execute(&p, lenient_only, sizeof lenient_only - 1);

    struct spate_config cfg;
    spate_config_init(&cfg);
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "spate: %s\n", err);
        return 1;
    }
    struct result res = {-1, SPATE_OK};
    struct spate_request req = {.url = argv[1], .done = on_done, .user = &res};
    if (spate_submit(e, &req, err, sizeof err) < 0 || spate_run(e) < 0) {
        fprintf(stderr, "spate: %s\n", err);
        spate_engine_destroy(e);
        return 1;
    }
    spate_engine_destroy(e);
    printf("own_parse=%s own_init_calls=%u status=%d error=%s\n", own == HPE_OK ? "ok" : "error",
           init_calls, res.status, spate_error_kind_name(res.error));
    return 0;
}
