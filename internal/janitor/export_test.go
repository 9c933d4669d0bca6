package janitor

// WithHook returns c with a hook called at the pass's named points
// ("recover-batch", "check-entry", "check-entry-moved"), where tests commit a racing transaction.
func WithHook(c Config, hook func(point, name string)) Config {
	c.hook = hook
	return c
}
