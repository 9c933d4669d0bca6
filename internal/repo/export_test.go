package repo

// The statements whose plans TestManyRowDeletesProbeTheURLIndex reads, and
// the unexported pieces the external tests compare with their library twins.
var (
	TrashManyByIDsSQL  = trashManyByIDsSQL
	TrashByProductoSQL = trashByProductoSQL
	ScanEntrada        = scanEntrada
	EntradaColumns     = entradaColumns
)
