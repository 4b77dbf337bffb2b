/// The dashboard's style sheet.
extension Dashboard {
    static let style = """
        :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #fafafa; }
        body { margin: 0; }
        header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .5rem 1rem; background: #17324d; color: #fff; }
        header h1 { font-size: 1.2rem; margin: 0; }
        header input { font: inherit; }
        main { padding: 0 1rem 2rem; max-width: 80rem; }
        h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
        h3 { font-size: .95rem; margin: .8rem 0 .3rem; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; white-space: nowrap; }
        td.error { white-space: normal; max-width: 24rem; overflow-wrap: anywhere; }
        td.wide-error { white-space: normal; overflow-wrap: anywhere; color: #a40000; font-size: .85rem; }
        tr.chosen { background: #e8f0fa; }
        .state::before { content: "● "; }
        .state.failed, .state.discarded, .state.finalization_failed { color: #a40000; }
        .state.completed, .state.standby, .state.failed_over { color: #1d6b2f; }
        .state.running { color: #0b4f8a; }
        progress { width: 8rem; vertical-align: middle; }
        button { font: inherit; margin: 0 .2rem .2rem 0; }
        .refusal { color: #a40000; margin-left: .4rem; }
        #events { font-family: ui-monospace, monospace; font-size: .8rem; list-style: none; padding-left: 0; }
        #timeline { font-size: .9rem; }
        /* Long unbroken JSON (an event's data, a digest) wraps rather than widen a phone's page. */
        #events, #timeline { overflow-wrap: anywhere; }
        dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .2rem 1rem; font-size: .9rem; }
        dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
        form label { margin-right: .6rem; white-space: nowrap; }
        @media (max-width: 40rem) { main { padding: 0 .5rem 2rem; } th, td { padding: .2rem .3rem; } }
        """
}
