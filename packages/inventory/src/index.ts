// Sensor registry, home networks and asset inventory. Hand-written public surface (no `export *`).
export { CRITICALITIES, Inventory, parseInventory, type AssetEntry, type Criticality, type Organization, type Sensor } from './inventory.ts';
export { InventoryStore, loadInventoryFile, type InventoryWatchOptions } from './store.ts';
export { PrefixTrie, type PrefixMatch } from './prefix-trie.ts';
export { formatCidr, formatIp, ipv4Into, parseCidr, parseIp, parseIpInto, type Cidr, type IpBytes } from './ip.ts';
