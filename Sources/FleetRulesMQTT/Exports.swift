@_exported import FleetRulesMQTTCodec
