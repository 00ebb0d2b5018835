// The delivery configuration (`DeliveryConfig`, `DeliveryLoader`) is read by its own module, free
// of the networking packages; everything that imports FleetRulesDelivery sees it as before.
@_exported import FleetRulesDeliveryConfig
