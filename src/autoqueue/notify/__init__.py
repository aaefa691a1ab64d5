"""Notifications through Apprise (docs/notifications.md): where the events go (``targets``, with
their secrets masked), what each message says (``messages``), sending one with a timeout
(``send``, the only module that imports Apprise, and only when something is sent), the daily
digest (``digest``), a pass over the events still to send (``dispatch``), and the thread a worker
runs it in (``notifier``). The events themselves are recorded by the queue's transitions, in
their own transactions (autoqueue.queue.records.note_event)."""
