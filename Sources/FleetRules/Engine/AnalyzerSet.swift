/// The engine's analyzers, stored by concrete type. Every accepted reading calls a few of them
/// (observe, and a prefetch hint a few readings earlier); through an array of `any Analyzer`
/// each call would project the existential's heap box and check its uniqueness, which cost more
/// than the observation itself. Here the hot calls are static and mutate the analyzer in place;
/// an analyzer of another type still works through the `others` array.
struct AnalyzerSet: Sendable {
    private enum Slot: Sendable {
        case forecast(Int), drift(Int), correlation(Int), balance(Int), other(Int)
    }
    private var slots: [Slot] = []
    private var forecasts: [ForecastAnalyzer] = []
    private var drifts: [DriftAnalyzer] = []
    private var correlations: [CorrelationAnalyzer] = []
    private var balances: [BalanceAnalyzer] = []
    private var others: [any Analyzer] = []
    /// Learned curves shared by forecast analyzers of one metric and `curve_by`, and each
    /// forecast analyzer's book (lent to it for its ticks).
    private var curveBooks: [CurveBook?] = []
    private var forecastBook: [Int?] = []
    /// Per analyzer, its operator and tick spacing (fixed at creation).
    private(set) var operatorIndex: [Int] = []
    private(set) var tickInterval: [Double] = []

    var count: Int { slots.count }
    var isEmpty: Bool { slots.isEmpty }
    var indices: Range<Int> { slots.indices }

    mutating func append(_ analyzer: any Analyzer) {
        operatorIndex.append(analyzer.operatorIndex)
        tickInterval.append(analyzer.tickInterval)
        switch analyzer {
        case var a as ForecastAnalyzer:
            slots.append(.forecast(forecasts.count))
            var book: Int?
            if let curves = a.curves {
                if let k = curveBooks.firstIndex(where: { $0?.key == curves.key }) {
                    curveBooks[k]?.share(with: curves.rules[0])
                    book = k
                } else {
                    book = curveBooks.count
                    curveBooks.append(curves)
                }
                a.curves = nil
            }
            forecastBook.append(book)
            forecasts.append(a)
        case let a as DriftAnalyzer:
            slots.append(.drift(drifts.count))
            drifts.append(a)
        case let a as CorrelationAnalyzer:
            slots.append(.correlation(correlations.count))
            correlations.append(a)
        case let a as BalanceAnalyzer:
            slots.append(.balance(balances.count))
            balances.append(a)
        default:
            slots.append(.other(others.count))
            others.append(analyzer)
        }
    }

    @inline(__always)
    mutating func observe(_ a: Int, device: Int, metric: Int, value: Double, time: Double) {
        switch slots[a] {
        case .forecast(let i): forecasts[i].observe(device: device, metric: metric, value: value, time: time)
        case .drift(let i): drifts[i].observe(device: device, metric: metric, value: value, time: time)
        case .correlation(let i): correlations[i].observe(device: device, metric: metric, value: value, time: time)
        case .balance(let i): balances[i].observe(device: device, metric: metric, value: value, time: time)
        case .other(let i): others[i].observe(device: device, metric: metric, value: value, time: time)
        }
    }

    @inline(__always)
    mutating func observeReading(_ a: Int, device: Int, time: Double, gateway: Int32) {
        switch slots[a] {
        case .forecast(let i): forecasts[i].observeReading(device: device, time: time, gateway: gateway)
        case .drift(let i): drifts[i].observeReading(device: device, time: time, gateway: gateway)
        case .correlation(let i): correlations[i].observeReading(device: device, time: time, gateway: gateway)
        case .balance(let i): balances[i].observeReading(device: device, time: time, gateway: gateway)
        case .other(let i): others[i].observeReading(device: device, time: time, gateway: gateway)
        }
    }

    @inline(__always)
    mutating func prefetch(_ a: Int, device: Int) {
        switch slots[a] {
        case .forecast(let i): forecasts[i].prefetch(device: device)
        case .drift(let i): drifts[i].prefetch(device: device)
        case .correlation(let i): correlations[i].prefetch(device: device)
        case .balance(let i): balances[i].prefetch(device: device)
        case .other(let i): others[i].prefetch(device: device)
        }
    }

    mutating func tick(_ a: Int, at time: Double, _ context: AnalysisContext, _ sink: inout FindingSink) {
        switch slots[a] {
        case .forecast(let i): lendingCurves(i) { $0.tick(at: time, context, &sink) }
        case .drift(let i): drifts[i].tick(at: time, context, &sink)
        case .correlation(let i): correlations[i].tick(at: time, context, &sink)
        case .balance(let i): balances[i].tick(at: time, context, &sink)
        case .other(let i): others[i].tick(at: time, context, &sink)
        }
    }

    mutating func finish(_ a: Int, at time: Double, _ context: AnalysisContext, _ sink: inout FindingSink) {
        switch slots[a] {
        case .forecast(let i): lendingCurves(i) { $0.finish(at: time, context, &sink) }
        case .drift(let i): drifts[i].finish(at: time, context, &sink)
        case .correlation(let i): correlations[i].finish(at: time, context, &sink)
        case .balance(let i): balances[i].finish(at: time, context, &sink)
        case .other(let i): others[i].finish(at: time, context, &sink)
        }
    }

    func sections(_ a: Int, _ context: AnalysisContext) -> AnalysisSections {
        switch slots[a] {
        case .forecast(let i): forecasts[i].sections(context)
        case .drift(let i): drifts[i].sections(context)
        case .correlation(let i): correlations[i].sections(context)
        case .balance(let i): balances[i].sections(context)
        case .other(let i): others[i].sections(context)
        }
    }

    /// The group rule analyzer of operator `o`, if it is one.
    func group(operator o: Int) -> GroupAnalyzer? {
        for case .other(let i) in slots {
            if let g = others[i] as? GroupAnalyzer, g.operatorIndex == o { return g }
        }
        return nil
    }

    /// Runs `body` on forecast analyzer `i` with its shared curve book lent to it.
    private mutating func lendingCurves(_ i: Int, _ body: (inout ForecastAnalyzer) -> Void) {
        guard let k = forecastBook[i] else { return body(&forecasts[i]) }
        swap(&forecasts[i].curves, &curveBooks[k])
        body(&forecasts[i])
        swap(&forecasts[i].curves, &curveBooks[k])
    }

    /// The learned curves of the shared books, one entry per cohort, in metric units.
    func forecastCurves() -> [ForecastCurve] {
        func edge(_ x: Double) -> Double { (x * 1e9).rounded() / 1e9 }
        var out: [ForecastCurve] = []
        for case let book? in curveBooks {
            let falling = book.falling
            for (c, name) in book.names.enumerated() {
                let curve = book.curves[c]
                let m = curve.multipliers()
                let bands = (0..<LevelCurve.bands).compactMap { k -> ForecastCurve.Band? in
                    let count = curve.sampleCount(band: k)
                    guard count > 0 else { return nil }
                    let a = edge(curve.low + Double(k) * curve.width)
                    let b = edge(curve.low + Double(k + 1) * curve.width)
                    return .init(
                        from: falling ? a : -b, to: falling ? b : -a, multiplier: (m[k] * 1000).rounded() / 1000,
                        ratios: count)
                }
                out.append(
                    ForecastCurve(
                        rules: book.rules, metric: book.metric, by: book.attributes,
                        cohort: name, bands: bands))
            }
        }
        return out
    }

    /// Whether forecast analyzers keep a daily snapshot per device.
    mutating func setForecastHistory(_ on: Bool) {
        for i in forecasts.indices { forecasts[i].recordHistory = on }
    }
}
