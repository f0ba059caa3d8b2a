// Package jobs runs paysync's background work on asynq. Every task's
// payload holds ids only: nothing personal or secret ever reaches Redis.
// Tasks go to three queues Options names: live syncs to the critical
// queue, the other live work to the default queue, sync runs' work to the
// bulk queue (see NewWorker for how workers share out their slots).
//
//   - customer:sync (TypeSync, sync.go): creates or links a customer at its
//     provider and stores the outcome; payload the link's id and generation
//     (paysync.LinkRef).
//   - webhook:inbox (TypeInbox, inbox.go): processes one stored provider
//     webhook event by re-reading the customer it names at the provider;
//     payload the inbox event's id.
//   - customer:refresh (TypeRefresh, refresh.go): re-reads one link's
//     payment methods at the provider on the reconciler's schedule; payload
//     the link's id.
//   - customer:setup_link (TypeSetupLink, setuplink.go): generates the setup
//     link of a freshly created provider customer; payload "link id:generation".
//   - webhook:deliver (TypeDeliver, delivery.go): sends one client webhook
//     delivery, signed as Lago signs; payload the delivery's id (the body
//     stays in the database).
//
// Beside the tasks: Queue (queue.go) enqueues every one of them; Outbox
// (outbox.go) turns the notifications recorded with a change into
// deliveries; the Reconciler (reconcile.go) re-enqueues what a crash or a
// Redis outage left behind and schedules refreshes; NewWorker (worker.go)
// runs the handlers.
package jobs
