import FleetRules
import FleetRulesWorkloads
import Testing

/// The synthetic workloads `fleetrules bench` and the Benchmarks/ package measure are valid input.
@Suite struct WorkloadsTests {
    @Test func syntheticTelemetryDecodesEveryLine() {
        let bytes = Workloads.telemetry(devices: 12, readings: 240)
        #expect(Workloads.decode(bytes) == 240)
        #expect(Workloads.telemetry(devices: 12, readings: 240) == bytes)
    }

    @Test func theReplayWorkloadEvaluatesEveryReading() throws {
        let plan = try Policy.parse(Workloads.thresholdPack).compile()
        let engine = Workloads.replay(
            plan, inventory: Workloads.inventory(devices: 12), bytes: Workloads.telemetry(devices: 12, readings: 240))
        #expect(engine.stats.readings == 240)
        #expect(Workloads.readings(devices: 12, count: 30).count == 30)
    }

    @Test func theRebalancingSiteIsDeterministic() {
        let a = Rebalancer.benchmarkSite(gateways: 20, devices: 500, seed: 3)
        #expect(a == Rebalancer.benchmarkSite(gateways: 20, devices: 500, seed: 3))
        #expect(a.count == 500)
        #expect(a.allSatisfy { $0.reachable.contains($0.gateway) && $0.reachable.allSatisfy { (0..<20).contains($0) } })
    }
}
