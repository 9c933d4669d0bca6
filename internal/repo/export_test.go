package repo

// The statements whose plans TestManyRowDeletesProbeTheURLIndex reads.
var (
	TrashManyByIDsSQL  = trashManyByIDsSQL
	TrashByProductoSQL = trashByProductoSQL
)
