package janitor

// WithHook returns c with a hook called at the pass's named points
// ("recover-batch", "check-entry", "check-entry-moved"), where tests commit a racing transaction.
func WithHook(c Config, hook func(point, name string)) Config {
	c.hook = hook
	return c
}

// WithDanglingHeld returns c holding at most n dangling rows from the
// orphans step's merge, so that tests reach the dangling step's own scan.
func WithDanglingHeld(c Config, n int) Config {
	c.danglingHeld = n
	return c
}
