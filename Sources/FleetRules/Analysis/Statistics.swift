import Foundation

/// Correlation coefficients, their p-values and multiple-testing corrections.
enum Statistics {
    /// Pearson's r; nil with fewer than 3 pairs or a constant signal.
    static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = min(x.count, y.count)
        guard n >= 3 else { return nil }
        var mx = 0.0, my = 0.0
        for i in 0..<n {
            mx += x[i]
            my += y[i]
        }
        mx /= Double(n)
        my /= Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
    }

    /// Spearman's ρ: Pearson's r of the ranks, ties sharing their mean rank.
    static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        let n = min(x.count, y.count)
        return pearson(ranks(Array(x.prefix(n))), ranks(Array(y.prefix(n))))
    }

    /// Ranks 1…n, ties given the mean of the ranks they span.
    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var out = Array(repeating: 0.0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, v[order[j + 1]] == v[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { out[order[k]] = rank }
            i = j + 1
        }
        return out
    }

    /// Two-sided p-value of a correlation coefficient `r` on `n` pairs under H0 (no correlation),
    /// from t = r·√((n−2)/(1−r²)) with n − 2 degrees of freedom: p = I_{ν/(ν+t²)}(ν/2, 1/2).
    /// Exact for Pearson's r on normal data; the usual large-sample approximation for Spearman's ρ
    /// (the one scipy.stats.spearmanr uses).
    static func correlationPValue(r: Double, n: Int) -> Double? {
        guard n >= 3, r.isFinite else { return nil }
        let df = Double(n - 2)
        let r2 = min(1, r * r)
        if r2 >= 1 { return 0 }
        let t2 = r2 * df / (1 - r2)
        return min(1, max(0, regularizedIncompleteBeta(a: df / 2, b: 0.5, x: df / (df + t2))))
    }

    /// Two-sided p-value of Student's t with `df` degrees of freedom.
    static func studentTwoSided(t: Double, df: Double) -> Double {
        regularizedIncompleteBeta(a: df / 2, b: 0.5, x: df / (df + t * t))
    }

    /// I_x(a, b), by Lentz's continued fraction on the side where it converges fast.
    static func regularizedIncompleteBeta(a: Double, b: Double, x: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let lnPowers: Double = a * log(x) + b * log(1 - x)
        let lnFront = lnBeta + lnPowers
        let front = exp(lnFront)
        if x < (a + 1) / (a + b + 2) {
            return front * betaContinuedFraction(a: a, b: b, x: x) / a
        }
        return 1 - front * betaContinuedFraction(a: b, b: a, x: 1 - x) / b
    }

    private static func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        let eps = 1e-15
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            let m2 = 2 * m
            var num = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + num * d
            if abs(d) < tiny { d = tiny }
            c = 1 + num / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + num * d
            if abs(d) < tiny { d = tiny }
            c = 1 + num / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < eps { break }
        }
        return h
    }

    /// Holm's step-down adjustment (controls the family-wise error rate).
    static func holm(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var out = Array(repeating: 1.0, count: m)
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            out[i] = running
        }
        return out
    }

    /// Benjamini–Hochberg step-up adjustment (controls the false discovery rate).
    static func benjaminiHochberg(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var out = Array(repeating: 1.0, count: m)
        var running = 1.0
        for rank in stride(from: m - 1, through: 0, by: -1) {
            let i = order[rank]
            running = min(running, min(1, p[i] * Double(m) / Double(rank + 1)))
            out[i] = running
        }
        return out
    }
}
