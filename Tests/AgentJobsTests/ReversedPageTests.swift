import AgentJobsCore
import Testing

/// A deep offset page read from the other end must be exactly the forward page.
@Suite("Deep offset pages from the other end")
struct ReversedPageTests {
    @Test("for every total, offset and limit up to 40: the reversed read, turned around, is the forward page")
    func everySmallCase() {
        for total in 0...40 {
            let forward = Array(0..<total)
            let backward = Array(forward.reversed())
            for offset in 0...(total + 3) {
                for limit in 0...(total + 3) {
                    let page = Array(forward.dropFirst(offset).prefix(limit))
                    guard let plan = ReversedPage.plan(total: total, offset: offset, limit: limit) else {
                        // Forward is kept only where it steps over no more rows than backward would.
                        #expect(limit == 0 || offset >= total || offset <= total - offset)
                        continue
                    }
                    #expect(offset > total / 2 && offset < total && limit > 0)
                    #expect(plan.offset < offset, "steps over fewer rows")
                    let read = Array(backward.dropFirst(plan.offset).prefix(plan.limit).reversed())
                    #expect(read == page, "total \(total) offset \(offset) limit \(limit)")
                }
            }
        }
        #expect(
            ReversedPage.plan(total: 1_000_000, offset: 900_000, limit: 20) == ReversedPage(offset: 99_980, limit: 20))
    }
}
