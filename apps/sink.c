/* SPDX-License-Identifier: BSD-3-Clause */
/* --mode=sink: count what arrives; answer ARP/ND for our addresses. */
#include "app.h"
#include "rx.h"

static unsigned int
sink_poll(struct qb_worker *w, uint64_t now)
{
	const struct qb_app *app = w->mode;

	RTE_SET_USED(now);
	/* Without --ip there is nothing to filter on: count every datagram. */
	return qb_rx_poll(w, &app->addrs, app->addrs.n_addrs != 0);
}

static int
sink_init(struct qb_app *app)
{
	unsigned int i;

	for (i = 0; i < app->nb_workers; i++) {
		app->workers[i].poll = sink_poll;
		app->workers[i].mode = app;
	}
	return 0;
}

static void
sink_fini(struct qb_app *app)
{
	RTE_SET_USED(app);
}

const struct qb_mode_ops qb_sink_ops = {
        .init = sink_init,
        .fini = sink_fini,
};
