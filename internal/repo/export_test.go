package repo

// The unexported pieces the external tests compare with their library twins.
var (
	ScanEntrada    = scanEntrada
	EntradaColumns = entradaColumns
	Translate      = translate
)
