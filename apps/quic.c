/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --mode=server and --mode=client: engine workers (qb_engine.h) on the
 * app's port, each connection driven by an HTTP object (qburst/http.h):
 * a file server for --www, or a fetcher of the client's URLs. Everything
 * per connection happens in the engine's event callback on the worker's
 * lcore; the control lcore only reads counters and flushes qlogs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include <qburst/http.h>
#include <qburst/qlog.h>
#include <qburst/tls.h>

#include "app.h"
#include "qb_engine.h"
#include "qb_log.h"

#define QUIC_INBOX_SIZE  4096
#define QUIC_MAX_SERVERS 8
#define QUIC_REASON_LEN  256

/* Counters of one worker: written by it, read by the control lcore. */
struct quic_counters {
	uint64_t conns;      /* connections created or opened */
	uint64_t handshakes; /* completed handshakes */
	uint64_t streams;    /* requests served (server) or finished (client) */
	uint64_t bytes;      /* HTTP body bytes sent (server) or received (client) */
	uint64_t lost;       /* packets declared lost (each one retransmitted) */
	uint64_t srtt_ns;    /* smoothed RTT of the last connection updated */
	uint64_t first_ns;   /* when body bytes first moved (qb_engine_now_ns; 0: never) */
	uint64_t last_ns;    /* when they last moved */
	/* Process CPU time (all threads) sampled at first_ns and, at most once
	 * per QUIC_CPU_SAMPLE_NS, as the transfer goes on (cpu_at: when): the
	 * CPU the transfer cost, for goodput per core (BRIEF §6). */
	uint64_t cpu_first_ns;
	uint64_t cpu_last_ns;
	uint64_t cpu_at;
} __rte_cache_aligned;

/* A syscall, so not per event: once a millisecond at most. */
#define QUIC_CPU_SAMPLE_NS 1000000ull

/* The app's state of one connection. */
struct quic_conn {
	struct qb_http *h;
	struct qb_qlog_file *qf;
	int server; /* client: index in servers[] */
	bool hs;
	bool finished; /* client: result recorded */
	uint64_t last_streams, last_bytes, last_lost;
	struct quic_conn *next_dead; /* on its worker's list of closed connections */
};

/* Client: one server and its URLs. */
struct quic_server {
	struct qb_ipaddr ip;
	uint16_t port;
	const char *paths[QB_MAX_URLS];
	size_t n;
	char authority[QB_IPADDR_STRLEN + 8];
	char name[QB_IPADDR_STRLEN];
	struct rte_ether_addr mac;
};

struct quic_state {
	struct qb_app *app;
	bool server;
	struct qb_tls_ctx *tls;
	struct qb_engine_worker **w; /* nb_workers */
	struct rte_ring **inboxes;   /* nb_workers */
	const struct qb_lcore_stats **wstats;
	struct quic_counters *cnt;     /* nb_workers */
	struct qb_qlog_file **pending; /* server: each worker's qlog for its next connection */
	struct quic_conn **dead;       /* per worker: closed, their qlog still to close */
	struct quic_server servers[QUIC_MAX_SERVERS];
	unsigned int n_servers;
	/* client results (worker-written, read after the workers stopped) */
	unsigned int conns_left;
	unsigned int conns_failed;
	char reason[QUIC_REASON_LEN];
	struct quic_counters last; /* for the periodic line */
};

static struct quic_state *
state(struct qb_app *app)
{
	return app->mode_state;
}

/* CPU time of the whole process, ns (0 if the clock is unavailable). */
static uint64_t
proc_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Samples the process CPU time at most every QUIC_CPU_SAMPLE_NS (or now, if force). */
static void
cpu_sample(struct quic_counters *c, uint64_t now, bool force)
{
	if (!force && now - c->cpu_at < QUIC_CPU_SAMPLE_NS)
		return;
	__atomic_store_n(&c->cpu_last_ns, proc_cpu_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&c->cpu_at, now, __ATOMIC_RELAXED);
}

static void
cnt_add(uint64_t *c, uint64_t d)
{
	__atomic_store_n(c, *c + d, __ATOMIC_RELAXED);
}

static void
counters_sum(const struct quic_state *st, struct quic_counters *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < st->app->nb_workers; i++) {
		const struct quic_counters *c = &st->cnt[i];

		t->conns += __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
		t->handshakes += __atomic_load_n(&c->handshakes, __ATOMIC_RELAXED);
		t->streams += __atomic_load_n(&c->streams, __ATOMIC_RELAXED);
		t->bytes += __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
		t->lost += __atomic_load_n(&c->lost, __ATOMIC_RELAXED);
		uint64_t s = __atomic_load_n(&c->srtt_ns, __ATOMIC_RELAXED);
		if (s > t->srtt_ns)
			t->srtt_ns = s;
		uint64_t f = __atomic_load_n(&c->first_ns, __ATOMIC_RELAXED);
		uint64_t l = __atomic_load_n(&c->last_ns, __ATOMIC_RELAXED);
		if (f != 0 && (t->first_ns == 0 || f < t->first_ns))
			t->first_ns = f;
		if (l > t->last_ns)
			t->last_ns = l;
		uint64_t cf = __atomic_load_n(&c->cpu_first_ns, __ATOMIC_RELAXED);
		uint64_t cl = __atomic_load_n(&c->cpu_last_ns, __ATOMIC_RELAXED);
		uint64_t ca = __atomic_load_n(&c->cpu_at, __ATOMIC_RELAXED);
		/* The process's clock: the earliest start and the latest sample. */
		if (f != 0 && (t->cpu_first_ns == 0 || cf < t->cpu_first_ns))
			t->cpu_first_ns = cf;
		if (ca > t->cpu_at) {
			t->cpu_at = ca;
			t->cpu_last_ns = cl;
		}
	}
}

static struct qb_qlog_file *
qlog_open(const struct quic_state *st)
{
	struct qb_qlog_config qc = {0};
	struct timespec ts;

	if (st->app->opts.qlog_dir == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	qc.wall_clock_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	qc.title = "qburst";
	qc.vantage_name = st->server ? "qburst server" : "qburst client";
	return qb_qlog_file_open(st->app->opts.qlog_dir, &qc);
}

/*
 * A closed connection's state: its qb_conn is freed by the engine after the
 * QB_ENGINE_EV_CLOSED call, and flushes its qlog then, so the qlog file is
 * closed later (the worker's next event, or at the end).
 */
static void
conn_bury(struct quic_state *st, unsigned int wid, struct quic_conn *qc)
{
	qb_http_free(qc->h);
	qc->h = NULL;
	qc->next_dead = st->dead[wid];
	st->dead[wid] = qc;
}

static void
dead_reap(struct quic_state *st, unsigned int wid)
{
	while (st->dead[wid] != NULL) {
		struct quic_conn *qc = st->dead[wid];

		st->dead[wid] = qc->next_dead;
		qb_qlog_file_close(qc->qf);
		free(qc);
	}
}

/* Counters from the connection and its HTTP object, as deltas. */
static void
conn_update(struct quic_counters *c, struct quic_conn *qc, struct qb_conn *conn, bool server,
            size_t n_req, uint64_t now)
{
	struct qb_conn_stats cs;
	uint64_t streams = 0, bytes = 0;

	if (!qc->hs && qb_conn_handshake_complete(conn)) {
		qc->hs = true;
		cnt_add(&c->handshakes, 1);
	}
	qb_conn_stats(conn, &cs);
	if (cs.pkts_lost > qc->last_lost) {
		cnt_add(&c->lost, cs.pkts_lost - qc->last_lost);
		qc->last_lost = cs.pkts_lost;
	}
	if (cs.srtt_ns != 0)
		__atomic_store_n(&c->srtt_ns, cs.srtt_ns, __ATOMIC_RELAXED);
	/* A server's body bytes count when written into streams: its transfer
	 * lasts until they are acknowledged. */
	if (server && qc->last_bytes > 0 && cs.bytes_in_flight > 0) {
		__atomic_store_n(&c->last_ns, now, __ATOMIC_RELAXED);
		cpu_sample(c, now, false);
	}
	if (qc->h == NULL)
		return;
	if (server) {
		struct qb_http_server_stats ss;

		qb_http_server_stats(qc->h, &ss);
		streams = ss.requests;
		bytes = ss.bytes;
	} else {
		for (size_t i = 0; i < n_req; i++) {
			struct qb_http_result r;

			if (qb_http_client_result(qc->h, i, &r) != 0)
				continue;
			streams += r.done;
			bytes += r.bytes;
		}
	}
	if (streams > qc->last_streams) {
		cnt_add(&c->streams, streams - qc->last_streams);
		qc->last_streams = streams;
	}
	if (bytes > qc->last_bytes) {
		cnt_add(&c->bytes, bytes - qc->last_bytes);
		qc->last_bytes = bytes;
		if (c->first_ns == 0) {
			__atomic_store_n(&c->first_ns, now, __ATOMIC_RELAXED);
			__atomic_store_n(&c->cpu_first_ns, proc_cpu_ns(), __ATOMIC_RELAXED);
			__atomic_store_n(&c->cpu_at, now, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&c->last_ns, now, __ATOMIC_RELAXED);
		cpu_sample(c, now, false);
	}
}

/* ---- server -------------------------------------------------------------- */

/* A qlog for the connection about to be made (kept for the next one if it is not). */
static void
server_conn_config(void *arg, struct qb_engine_worker *w, struct qb_conn_config *cfg, uint64_t now)
{
	struct quic_state *st = arg;
	struct qb_qlog_file **p = &st->pending[w->cf.worker_id];

	(void)now;
	if (*p == NULL)
		*p = qlog_open(st);
	cfg->qlog = *p != NULL ? qb_qlog_file_qlog(*p) : NULL;
}

static void
server_event(void *arg, struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int ev,
             uint64_t now)
{
	struct quic_state *st = arg;
	struct quic_counters *c = &st->cnt[w->cf.worker_id];
	struct quic_conn *qc = ec->user;

	dead_reap(st, w->cf.worker_id);
	if (ev & QB_ENGINE_EV_NEW) {
		qc = calloc(1, sizeof(*qc));
		if (qc != NULL)
			qc->h = qb_http_server_new(ec->conn, st->app->opts.www, NULL);
		if (qc == NULL || qc->h == NULL) {
			free(qc);
			qb_conn_close(ec->conn, 0x101 /* H3_GENERAL_PROTOCOL_ERROR */,
			              "out of memory", now);
			return;
		}
		ec->user = qc;
		qc->qf = st->pending[w->cf.worker_id];
		st->pending[w->cf.worker_id] = NULL;
		cnt_add(&c->conns, 1);
	}
	if (qc == NULL)
		return;
	if (ev & (QB_ENGINE_EV_RECV | QB_ENGINE_EV_NEW)) {
		qb_http_on_stream_events(qc->h, now);
		qb_http_pump(qc->h, now);
	}
	conn_update(c, qc, ec->conn, true, 0, now);
	if (ev & QB_ENGINE_EV_CLOSED) {
		conn_bury(st, w->cf.worker_id, qc);
		ec->user = NULL;
	}
}

/* ---- client -------------------------------------------------------------- */

static void
client_record(struct quic_state *st, struct quic_conn *qc, bool ok, const char *reason)
{
	const struct quic_server *s = &st->servers[qc->server];

	qc->finished = true;
	if (ok)
		return;
	st->conns_failed++;
	if (st->reason[0] == '\0')
		snprintf(st->reason, sizeof(st->reason), "%s: %s", s->authority,
		         reason != NULL && reason[0] != '\0' ? reason : "failed");
}

static void
client_event(void *arg, struct qb_engine_worker *w, struct qb_engine_conn *ec, unsigned int ev,
             uint64_t now)
{
	struct quic_state *st = arg;
	struct quic_counters *c = &st->cnt[w->cf.worker_id];
	struct quic_conn *qc = ec->user;
	const char *reason = "";
	bool ok = false;

	dead_reap(st, w->cf.worker_id);
	if (qc == NULL)
		return;
	if (ev & QB_ENGINE_EV_RECV) {
		qb_http_on_stream_events(qc->h, now);
		qb_http_pump(qc->h, now);
	}
	conn_update(c, qc, ec->conn, false, st->servers[qc->server].n, now);
	if (!qc->finished && qb_http_client_done(qc->h, &ok, &reason)) {
		if (c->first_ns != 0)
			cpu_sample(c, c->last_ns, true);
		client_record(st, qc, ok, reason);
		if (qb_conn_state(ec->conn) != QB_CONN_CLOSED)
			qb_conn_close(ec->conn, qb_http_close_code(qc->h), ok ? "done" : "failed",
			              now);
	}
	if (ev & QB_ENGINE_EV_CLOSED) {
		if (!qc->finished)
			client_record(st, qc, false, "connection closed");
		conn_bury(st, w->cf.worker_id, qc);
		ec->user = NULL;
		if (--st->conns_left == 0)
			qb_stop_request();
	}
}

/* Groups the URLs by server. */
static int
client_servers(struct quic_state *st)
{
	const struct qb_opts *o = &st->app->opts;

	for (unsigned int i = 0; i < o->n_urls; i++) {
		const struct qb_url *u = &o->urls[i];
		struct quic_server *s = NULL;

		for (unsigned int k = 0; k < st->n_servers; k++)
			if (qb_ipaddr_equal(&st->servers[k].ip, &u->ip) &&
			    st->servers[k].port == u->port)
				s = &st->servers[k];
		if (s == NULL) {
			if (st->n_servers == QUIC_MAX_SERVERS) {
				fprintf(stderr, "qburst: client: more than %d servers\n",
				        QUIC_MAX_SERVERS);
				return QB_EXIT_USAGE;
			}
			s = &st->servers[st->n_servers++];
			s->ip = u->ip;
			s->port = u->port;
			qb_ipaddr_format(&u->ip, s->name, sizeof(s->name));
			snprintf(s->authority, sizeof(s->authority),
			         u->ip.family == QB_AF_INET6 ? "[%s]:%u" : "%s:%u", s->name,
			         u->port);
		}
		s->paths[s->n++] = u->path;
	}
	return 0;
}

/* The next hop of every server (or of --relay): static, --dst-mac, or ARP/ND. */
static int
client_resolve(struct qb_app *app, struct quic_state *st)
{
	for (unsigned int k = 0; k < st->n_servers; k++) {
		struct quic_server *s = &st->servers[k];
		struct qb_ipaddr hop;
		int rc;

		if (app->opts.has_dst_mac) {
			s->mac = app->opts.dst_mac;
			continue;
		}
		qb_next_hop(&app->addrs, app->opts.relay.family != 0 ? &app->opts.relay : &s->ip,
		            &hop);
		/* The answer may land on any RX queue (RSS, af_packet fanout):
		 * ask on each in turn, 200 ms at a time. */
		rc = QB_ERR_STATE;
		for (unsigned int t = 0; rc == QB_ERR_STATE && t < app->opts.arp_timeout_ms;
		     t += 200) {
			for (uint16_t q = 0; rc == QB_ERR_STATE && q < app->nb_workers; q++)
				rc = qb_neigh_resolve(app->port.port_id, q, app->port.pool,
				                      &app->addrs, &app->neigh, &hop, 200, &s->mac);
		}
		if (rc != 0) {
			fprintf(stderr, "qburst: %s: no ARP/ND answer from the next hop\n",
			        s->name);
			return QB_EXIT_FAIL;
		}
	}
	return 0;
}

static void
client_start(struct qb_app *app, uint64_t tsc)
{
	struct quic_state *st = state(app);
	struct qb_engine_worker *w = st->w[0];
	uint64_t now = qb_engine_now_ns();

	(void)tsc;
	for (unsigned int k = 0; k < st->n_servers; k++) {
		struct quic_server *s = &st->servers[k];
		struct quic_conn *qc = calloc(1, sizeof(*qc));
		struct qb_engine_conn *ec;

		if (qc == NULL)
			goto fail;
		qc->server = (int)k;
		qc->qf = qlog_open(st);
		/* The template is copied by qb_engine_connect: per-server fields
		 * are set just before (the workers do not run yet). */
		/* Without --sni, the IP literal: not sent (SNI carries no
		 * addresses) but checked against the certificate with --ca. */
		w->cf.conn.server_name = app->opts.sni != NULL ? app->opts.sni : s->name;
		w->cf.conn.qlog = qc->qf != NULL ? qb_qlog_file_qlog(qc->qf) : NULL;
		/* --multipath: one path per address of the server's family. */
		struct qb_ipaddr locals[QB_CONN_MAX_PATHS];
		unsigned int n_locals = 0;

		for (unsigned int a = 0;
		     app->opts.multipath && a < app->addrs.n_addrs && n_locals < QB_CONN_MAX_PATHS;
		     a++)
			if (app->addrs.addrs[a].addr.family == s->ip.family)
				locals[n_locals++] = app->addrs.addrs[a].addr;
		ec = qb_engine_connect_multi(
		        w, &s->ip, s->port, app->opts.relay.family != 0 ? &app->opts.relay : NULL,
		        app->opts.relay_port, locals, n_locals, &s->mac, rte_rand(), now);
		w->cf.conn.qlog = NULL;
		if (ec == NULL) {
			bool relayed = app->opts.relay.family != 0;
			unsigned int room = qb_engine_quic_room(w, s->ip.family, relayed);

			qb_qlog_file_close(qc->qf);
			free(qc);
			/* A path that cannot carry a 1200-byte datagram of
			 * QUIC is refused (qb_burst_path_init): say so. */
			if (room < QB_BURST_QUIC_MIN) {
				snprintf(st->reason, sizeof(st->reason),
				         "%s: a UDP payload of %u bytes leaves %u for QUIC%s, "
				         "1200 needed (RFC 9000 §14.1)",
				         s->authority, w->cf.mtu, room,
				         relayed ? " behind the relay's forward header" : "");
				st->conns_failed++;
				continue;
			}
			goto fail;
		}
		qc->h = qb_http_client_new(ec->conn, app->opts.alpn, s->authority, s->paths, s->n,
		                           app->opts.downloads);
		if (qc->h == NULL) {
			qb_engine_conn_free(w, ec);
			qb_qlog_file_close(qc->qf);
			free(qc);
			goto fail;
		}
		ec->user = qc;
		st->conns_left++;
		cnt_add(&st->cnt[0].conns, 1);
		continue;
	fail:
		snprintf(st->reason, sizeof(st->reason), "%s: cannot open a connection",
		         s->authority);
		st->conns_failed++;
	}
	if (st->conns_left == 0)
		qb_stop_request();
}

static int
client_status(struct qb_app *app)
{
	struct quic_state *st = state(app);

	if (st->conns_failed == 0 && st->conns_left == 0)
		return QB_EXIT_OK;
	if (st->reason[0] == '\0')
		snprintf(st->reason, sizeof(st->reason), "%s",
		         qb_stop_signal() != 0 ? "interrupted" : "timeout");
	fprintf(stderr, "qburst: client: %s\n", st->reason);
	return QB_EXIT_FAIL;
}

/* ---- both ---------------------------------------------------------------- */

static void quic_fini(struct qb_app *app);

static int
quic_init(struct qb_app *app, bool server)
{
	static const char *const srv_alpn[] = {"h3", "hq-interop"};
	const struct qb_opts *o = &app->opts;
	struct quic_state *st = calloc(1, sizeof(*st));
	const char *cli_alpn[1] = {o->alpn};
	struct qb_tls_ctx_config tc = {0};
	char err[256] = "", sname[QB_IPADDR_STRLEN] = "localhost";
	unsigned int n = app->nb_workers, i;
	int rc;

	if (st == NULL)
		return QB_EXIT_FAIL;
	app->mode_state = st;
	st->app = app;
	st->server = server;
	st->w = calloc(n, sizeof(*st->w));
	st->inboxes = calloc(n, sizeof(*st->inboxes));
	st->wstats = calloc(n, sizeof(*st->wstats));
	st->cnt = rte_zmalloc("qb_quic_cnt", n * sizeof(*st->cnt), RTE_CACHE_LINE_SIZE);
	st->pending = calloc(n, sizeof(*st->pending));
	st->dead = calloc(n, sizeof(*st->dead));
	if (st->w == NULL || st->inboxes == NULL || st->wstats == NULL || st->cnt == NULL ||
	    st->pending == NULL || st->dead == NULL)
		goto nomem;
	if (!server) {
		rc = client_servers(st);
		if (rc == 0)
			rc = client_resolve(app, st);
		if (rc != 0) {
			quic_fini(app);
			return rc;
		}
	}

	tc.role = server ? QB_TLS_SERVER : QB_TLS_CLIENT;
	tc.alpn = server ? srv_alpn : cli_alpn;
	tc.alpn_count = server ? 2 : 1;
	tc.cert_file = o->cert;
	tc.key_file = o->key;
	if (server && o->n_ips > 0)
		qb_ipaddr_format(&o->ips[0].addr, sname, sizeof(sname));
	tc.selfsigned_name = sname;
	tc.ca_file = server ? NULL : o->ca;
	tc.keylog_file = o->keylog != NULL ? o->keylog : getenv("SSLKEYLOGFILE");
	if (tc.keylog_file != NULL && tc.keylog_file[0] == '\0')
		tc.keylog_file = NULL;
	st->tls = qb_tls_ctx_new(&tc, err, sizeof(err));
	if (st->tls == NULL) {
		fprintf(stderr, "qburst: TLS: %s\n", err);
		quic_fini(app);
		return QB_EXIT_FAIL;
	}
	if (!server && o->ca == NULL)
		fprintf(stderr, "qburst: warning: no --ca: the server's certificate is not "
		                "verified\n");

	for (i = 0; n > 1 && i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "qb_inbox%u", i);
		st->inboxes[i] = qb_engine_inbox_create(name, QUIC_INBOX_SIZE, app->port.socket_id);
		if (st->inboxes[i] == NULL)
			goto nomem;
	}
	/* One steering seed and one stateless-reset key for every worker: the
	 * hash that places a client's first DCID must agree across workers, and
	 * a reset must carry the token the connection advertised. */
	static uint8_t reset_key[QB_CID_RESET_KEY_LEN];
	const uint64_t steer_seed = rte_rand() | 1;
	for (size_t k = 0; k < sizeof(reset_key); k += 8) {
		uint64_t r = rte_rand();
		memcpy(&reset_key[k], &r, RTE_MIN(sizeof(r), sizeof(reset_key) - k));
	}
	for (i = 0; i < n; i++) {
		struct qb_engine_conf cf = {
		        .server = server,
		        .port_id = app->port.port_id,
		        .queue_id = (uint16_t)i,
		        .pool = app->port.pool,
		        .addrs = &app->addrs,
		        .udp_port = server ? o->listen_port
		                           : (uint16_t)(49152 + rte_rand_max(65535 - 49152)),
		        .mtu = o->mtu,
		        .hw_cksum = app->port.tx_cksum_ipv4,
		        /* A client's answers come back forwarded through its relay. */
		        .accept_relayed = server ? o->accept_relayed : o->relay.family != 0,
		        .conn = {.tls = st->tls,
		                 .cc_algo = o->cc,
		                 .pacer_burst = o->pacer_burst,
		                 .send_buffer_max = 4u << 20,
		                 .reset_key = reset_key,
		                 .multipath_handshake = o->multipath},
		        .steer_seed = steer_seed,
		        .server_id = (uint8_t)(rte_rand() & 0xff),
		        .worker_id = (uint16_t)i,
		        .n_workers = (uint16_t)n,
		        .inboxes = n > 1 ? st->inboxes : NULL,
		        .on_event = server ? server_event : client_event,
		        .event_arg = st,
		        .on_conn_config = server ? server_conn_config : NULL,
		};

		/* Every worker of a client shares its source port (one socket). */
		if (!server && i > 0)
			cf.udp_port = st->w[0]->cf.udp_port;
		if (i > 0)
			cf.server_id = st->w[0]->cf.server_id;
		st->w[i] = rte_zmalloc_socket("qb_engine_worker", sizeof(*st->w[i]),
		                              RTE_CACHE_LINE_SIZE, app->port.socket_id);
		if (st->w[i] == NULL)
			goto nomem;
		rc = qb_engine_worker_init(st->w[i], &cf);
		if (rc != 0) {
			rte_free(st->w[i]);
			st->w[i] = NULL;
			fprintf(stderr, "qburst: engine worker %u: set-up failed (%d)\n", i, rc);
			quic_fini(app);
			return QB_EXIT_FAIL;
		}
		app->workers[i].poll = qb_engine_worker_poll;
		app->workers[i].mode = st->w[i];
		st->wstats[i] = &st->w[i]->wk.stats;
	}
	app->wstats = st->wstats;
	/* A relaying listener whose --mtu leaves less than 1200 bytes of QUIC
	 * behind a forward header refuses those paths (counted as path_mtu):
	 * say so at start rather than only in the drop counts. */
	if (server && o->accept_relayed) {
		unsigned int r4 = qb_engine_quic_room(st->w[0], QB_AF_INET, true);
		unsigned int r6 = qb_engine_quic_room(st->w[0], QB_AF_INET6, true);

		if (r6 < QB_BURST_QUIC_MIN)
			fprintf(stderr,
			        "qburst: warning: --mtu=%u leaves %u bytes of QUIC behind the "
			        "forward header of a relayed IPv6 path%s: such paths are refused\n",
			        st->w[0]->cf.mtu, r6,
			        r4 < QB_BURST_QUIC_MIN ? " (and of an IPv4 one)" : "");
	}
	return 0;
nomem:
	fprintf(stderr, "qburst: %s: out of memory\n", server ? "server" : "client");
	quic_fini(app);
	return QB_EXIT_FAIL;
}

static int
server_init(struct qb_app *app)
{
	return quic_init(app, true);
}

static int
client_init(struct qb_app *app)
{
	return quic_init(app, false);
}

/* Workers stopped: connections freed (their HTTP objects and qlogs too). */
static void
quic_stopped(struct qb_app *app)
{
	struct quic_state *st = state(app);

	for (unsigned int i = 0; i < app->nb_workers; i++) {
		struct qb_engine_worker *w = st->w[i];

		if (w == NULL)
			continue;
		for (unsigned int k = 0; k < QB_ENGINE_MAX_CONNS; k++) {
			struct quic_conn *qc = w->conns[k].user;

			if (w->conns[k].conn == NULL || qc == NULL)
				continue;
			qb_http_free(qc->h);
			w->conns[k].user = NULL;
			/* The connection (and its qlog's last flush) goes first. */
			qb_engine_conn_free(w, &w->conns[k]);
			qb_qlog_file_close(qc->qf);
			free(qc);
		}
		qb_engine_worker_drain(w);
		qb_engine_worker_fini(w);
		dead_reap(st, i);
		qb_qlog_file_close(st->pending[i]);
		st->pending[i] = NULL;
	}
}

static void
quic_fini(struct qb_app *app)
{
	struct quic_state *st = state(app);

	if (st == NULL)
		return;
	for (unsigned int i = 0; st->w != NULL && i < app->nb_workers; i++)
		rte_free(st->w[i]);
	for (unsigned int i = 0; st->inboxes != NULL && i < app->nb_workers; i++)
		rte_ring_free(st->inboxes[i]);
	qb_tls_ctx_free(st->tls);
	app->wstats = NULL;
	free(st->w);
	free(st->inboxes);
	free(st->wstats);
	free(st->pending);
	free(st->dead);
	rte_free(st->cnt);
	free(st);
	app->mode_state = NULL;
}

static void
quic_line(struct qb_app *app, double dt_s)
{
	struct quic_state *st = state(app);
	struct quic_counters t;

	counters_sum(st, &t);
	printf("QUIC    conns: %" PRIu64 "  handshakes: %" PRIu64 "  streams: %" PRIu64
	       "  goodput: %.1f Mbit/s  retransmits: %" PRIu64 "  srtt: %" PRIu64 " us\n",
	       t.conns, t.handshakes, t.streams,
	       dt_s > 0 ? (double)(t.bytes - st->last.bytes) * 8 / dt_s / 1e6 : 0, t.lost,
	       t.srtt_ns / 1000);
	st->last = t;
}

/* The transfer's duration: first to last body byte (the run's when too short to tell). */
static double
xfer_secs(const struct quic_counters *t, double secs)
{
	if (t->first_ns != 0 && t->last_ns > t->first_ns)
		return (double)(t->last_ns - t->first_ns) / 1e9;
	return secs;
}

/* Body bits per second over the transfer. */
static double
goodput(const struct quic_counters *t, double secs)
{
	double d = xfer_secs(t, secs);

	return d > 0 ? (double)t->bytes * 8 / d : 0;
}

/* Process CPU seconds over the sampled part of the transfer, and that part's length. */
static void
xfer_cpu(const struct quic_counters *t, double *cpu_s, double *win_s)
{
	*cpu_s = 0;
	*win_s = 0;
	if (t->first_ns == 0 || t->cpu_at <= t->first_ns || t->cpu_last_ns < t->cpu_first_ns)
		return;
	*cpu_s = (double)(t->cpu_last_ns - t->cpu_first_ns) / 1e9;
	*win_s = (double)(t->cpu_at - t->first_ns) / 1e9;
}

/* --multipath: datagrams per path id over every worker (read once they stopped). */
static void
path_counts(const struct qb_app *app, uint64_t in[QB_CONN_MAX_PATHS],
            uint64_t out[QB_CONN_MAX_PATHS], uint64_t *opened, uint64_t *failed)
{
	const struct quic_state *st = app->mode_state;

	memset(in, 0, sizeof(uint64_t) * QB_CONN_MAX_PATHS);
	memset(out, 0, sizeof(uint64_t) * QB_CONN_MAX_PATHS);
	*opened = *failed = 0;
	for (unsigned int i = 0; i < app->nb_workers; i++) {
		const struct qb_engine_stats *es;

		if (st->w[i] == NULL)
			continue;
		es = &st->w[i]->st;
		for (unsigned int k = 0; k < QB_CONN_MAX_PATHS; k++) {
			in[k] += es->path_in[k];
			out[k] += es->path_out[k];
		}
		*opened += es->paths_new;
		*failed += es->paths_failed;
	}
}

static void
quic_summary(struct qb_app *app, double secs)
{
	const struct quic_state *st = state(app);
	struct quic_counters t;
	double cpu_s, win_s;

	counters_sum(st, &t);
	xfer_cpu(&t, &cpu_s, &win_s);
	printf("  QUIC connections: %" PRIu64 "  handshakes: %" PRIu64 "  streams: %" PRIu64
	       "  bytes: %" PRIu64
	       "\n  Goodput: %.1f Mbit/s (over %.3f s of transfer)  retransmits: %" PRIu64
	       "  srtt: %" PRIu64 " us",
	       t.conns, t.handshakes, t.streams, t.bytes, goodput(&t, secs) / 1e6,
	       xfer_secs(&t, secs), t.lost, t.srtt_ns / 1000);
	/* Not in --stats-json, whose keys are a contract (BRIEF §10). */
	if (win_s > 0)
		printf("\n  CPU over the transfer: %.6f s in %.6f s (%.2f cores)", cpu_s, win_s,
		       cpu_s / win_s);
	if (app->opts.relay.family != 0 || app->opts.accept_relayed) {
		uint64_t in = 0, other = 0, hand = 0;

		/* The workers have stopped: their counters are final. */
		for (unsigned int i = 0; i < app->nb_workers; i++) {
			if (st->w[i] == NULL)
				continue;
			in += st->w[i]->st.relayed_in;
			other += st->w[i]->st.other_path;
			hand += st->w[i]->d != NULL ? st->w[i]->d->stats.handover_in : 0;
		}
		printf("\n  QUIC datagrams in through a relay: %" PRIu64
		       "  from another path: %" PRIu64 "  handed over: %" PRIu64,
		       in, other, hand);
	}
	/* The engine's drops by reason, where there were any (a relayed path
	 * refused for its MTU, a datagram from an unvalidated address...). */
	uint64_t ed[QB_ENGINE_DROP__COUNT] = {0}, any = 0;

	for (unsigned int i = 0; i < app->nb_workers; i++)
		for (unsigned int r = 0; st->w[i] != NULL && r < QB_ENGINE_DROP__COUNT; r++) {
			ed[r] += st->w[i]->st.drops[r];
			any += st->w[i]->st.drops[r];
		}
	if (any > 0) {
		printf("\n  QUIC datagrams dropped by the engine:");
		for (unsigned int r = 0; r < QB_ENGINE_DROP__COUNT; r++)
			if (ed[r] > 0)
				printf(" %s=%" PRIu64, qb_engine_drop_name(r), ed[r]);
	}
	if (app->opts.multipath) {
		uint64_t in[QB_CONN_MAX_PATHS], out[QB_CONN_MAX_PATHS], opened, failed;

		path_counts(app, in, out, &opened, &failed);
		printf("\n  QUIC datagrams per path (in/out):");
		for (unsigned int k = 0; k < QB_CONN_MAX_PATHS; k++)
			printf("  %u: %" PRIu64 "/%" PRIu64, k, in[k], out[k]);
		printf("  paths opened: %" PRIu64 "  failed: %" PRIu64, opened, failed);
	}
}

static void
quic_json(struct qb_app *app, FILE *f, double secs)
{
	struct quic_counters t;

	counters_sum(state(app), &t);
	fprintf(f,
	        ",\"quic\":{\"connections\":%" PRIu64 ",\"handshakes\":%" PRIu64
	        ",\"streams\":%" PRIu64 ",\"goodput_bps\":%.0f,\"retransmits\":%" PRIu64
	        ",\"srtt_us\":%" PRIu64,
	        t.conns, t.handshakes, t.streams, goodput(&t, secs), t.lost, t.srtt_ns / 1000);
	if (app->opts.multipath) {
		uint64_t in[QB_CONN_MAX_PATHS], out[QB_CONN_MAX_PATHS], opened, failed;

		/* Keys added to the BRIEF §10 object, none changed. */
		path_counts(app, in, out, &opened, &failed);
		fprintf(f,
		        ",\"paths_opened\":%" PRIu64 ",\"paths_failed\":%" PRIu64
		        ",\"path_dgrams\":[",
		        opened, failed);
		for (unsigned int k = 0; k < QB_CONN_MAX_PATHS; k++)
			fprintf(f, "%s{\"path\":%u,\"in\":%" PRIu64 ",\"out\":%" PRIu64 "}",
			        k ? "," : "", k, in[k], out[k]);
		fputc(']', f);
	}
	fputc('}', f);
}

const struct qb_mode_ops qb_server_ops = {
        .init = server_init,
        .stopped = quic_stopped,
        .fini = quic_fini,
        .stats_line = quic_line,
        .stats_summary = quic_summary,
        .stats_json = quic_json,
};

const struct qb_mode_ops qb_client_ops = {
        .init = client_init,
        .start = client_start,
        .stopped = quic_stopped,
        .fini = quic_fini,
        .stats_line = quic_line,
        .stats_summary = quic_summary,
        .stats_json = quic_json,
        .status = client_status,
};
