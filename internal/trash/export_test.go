package trash

// SetHook makes s call h at named points of Run: "before-commit" (fn done,
// the COMMIT not yet sent) and "undo" (a commit that did not happen: the url
// locks taken again, the files not yet moved back).
func SetHook(s *Service, h func(point string)) { s.hook = h }
