;;; SPDX-License-Identifier: GPL-3.0-or-later
;;; (instar) -- the public API of instar-fuzz in one module.
;;;
;;;   (use-modules (instar))
;;;
;;; re-exports every exported binding of the (instar ...) modules: the
;;; core (planners, images, hashing), plan printing, the REPL helpers, and
;;; the differential engine (processes, pickers, engines, chains, oracles,
;;; whitelist, findings and their store, reduction, reports, the
;;; reference preflight, run-recipe), and watching a campaign (status,
;;; plots, the HTML report).
;;; instar-fuzz-repl loads it.  No two of these modules export one name,
;;; so nothing is shadowed.

(define-module (instar))

(define %instar-public-modules
  '((instar config) (instar core) (instar plan-print) (instar repl)
    (instar process) (instar pickers) (instar engine) (instar holder)
    (instar chain) (instar oracles) (instar whitelist) (instar findings)
    (instar store) (instar reduce) (instar report) (instar preflight)
    (instar fingerprint) (instar campaign)
    (instar run) (instar corpus) (instar status) (instar plot) (instar html-report)))

(let ((self (current-module)))
  (for-each
   (lambda (name)
     (let ((iface (resolve-interface name)))
       (module-use! self iface)
       (module-for-each (lambda (sym var) (module-re-export! self (list sym))) iface)))
   %instar-public-modules))

(define-public (instar-modules)
  "The modules whose exports (instar) re-exports."
  %instar-public-modules)
