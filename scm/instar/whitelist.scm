;;; (instar whitelist) -- known, documented divergences, as data.
;;;
;;; A rule is an alist:
;;;   id         a stable name
;;;   reason     why the difference is deliberate or harmless
;;;   reference  where it is documented
;;;   when       a condition over the case (see `case-holds?')
;;;   explains   diff keys it covers ("oracle:field"; a trailing * is a
;;;              prefix match), exit-class keys included
;;; A divergence whose every diff is explained by a rule whose condition
;;; holds is `known', counted per rule; anything left over is a finding.
;;; Ship rules only for real, documented differences.

(define-module (instar whitelist)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (instar pickers)
  #:use-module (instar oracles)
  #:export (default-rules
            reader-rules
            rule-id
            case-holds?
            apply-whitelist
            make-rule-counter
            count-rule-hits!
            rule-counts
            never-matched))

(define default-rules
  '((("id" . "qcow2-stale-tail-after-unaligned-shrink")
     ("reason" . "qemu keeps the whole last cluster when a qcow2 image shrinks to a size that is not cluster aligned, and the old bytes past the new end read back after a later grow; instar zeroes that tail on purpose so no stale data resurfaces.")
     ("reference" . "shared/reference/qemu-resize.md rule 4 and section 7.6; doc/differential.texi")
     ("when" . (and (format "qcow2") (unaligned-shrink-then-grow)))
     ("explains" . ("data:compare")))))

;; Documented limits of the independent readers of (instar readers): each
;; is a case where the reader also mis-reads qemu-img's own image
;; (tests/readers-limits.sh shows it on one), so no rule can hide a bug of
;; ours.
(define reader-rules
  '((("id" . "libvhdi-original-size-is-disk-size")
     ("reason" . "libvhdi (python3-libvhdi, vhdiinfo 20210425) takes a VHD footer's Original Size as the disk size, although the specification defines Original Size as the size at creation and Current Size as the size after an expansion; after a grow it reports the old size and reads nothing past it.  qemu, 7-Zip and the specification read Current Size; instar keeps Original Size as the creation size on a grow.")
     ("reference" . "doc/fmt-vhd.texi (Independent readers); tests/readers-limits.sh shows libvhdi mis-reading qemu-img's own image whose Original Size is below its Current Size")
     ("when" . (and (format "vpc") (grows)))
     ("explains" . ("reader:libvhdi:size" "reader:libvhdi:zero")))
    (("id" . "7zip-vhdx-odd-sector-count")
     ("reason" . "7-Zip (7zz 22.01+really26.02) refuses a VHDX whose virtual size is an odd number of 512-byte sectors ('Cannot open the file as [VHDX] archive'), qemu-img's own images of that size included.")
     ("reference" . "doc/fmt-vhdx.texi (Independent readers); tests/readers-limits.sh shows 7-Zip refusing qemu-img's own 1 MiB + 512 VHDX")
     ("when" . (and (format "vhdx") (end-odd-sectors)))
     ("explains" . ("reader:7zip:open")))))

(define (rule-id r) (assoc-ref r "id"))

(define (cluster-size case)
  (or (parse-size-string (or (assoc-ref (assoc-ref case "options") "cluster_size") "65536"))
      65536))

(define (unaligned-shrink-then-grow? case)
  "A shrink to a size that is not a multiple of the cluster size, a later
grow past it, and pattern bytes in the cut part of the kept cluster."
  (let* ((cs (cluster-size case))
         (ends (case-end-bytes case))
         (start (parse-size-string (assoc-ref case "size"))))
    (let loop ((cur start) (ends ends))
      (match ends
        ((or () (_)) #f)
        ((e next . rest)
         (or (and (< 0 e cur) (not (zero? (modulo e cs))) (> next e)
                  (let ((kept-end (min cur (* cs (quotient (+ e cs -1) cs)))))
                    (any (lambda (p)
                           (let ((off (assoc-ref p "offset"))
                                 (len (assoc-ref p "length")))
                             (and (< off kept-end) (> (+ off len) e))))
                         (vector->list (assoc-ref case "patterns")))))
             (loop (if (> e 0) e cur) (cons next rest))))))))

(define (case-holds? cnd case)
  (match cnd
    (('always) #t)
    (('format f) (equal? (assoc-ref case "format") f))
    (('op o) (equal? (assoc-ref case "op") o))
    (('start-mode m) (equal? (assoc-ref case "start-mode") m))
    (('option k v) (equal? (assoc-ref (assoc-ref case "options") k) v))
    (('unaligned-shrink-then-grow) (unaligned-shrink-then-grow? case))
    ;; The last resize ends above the start size / at an odd sector count.
    (('grows) (let ((ends (case-end-bytes case))
                    (start (parse-size-string (assoc-ref case "size"))))
                (and (pair? ends) start (> (last ends) start))))
    (('end-odd-sectors) (let ((ends (case-end-bytes case)))
                          (and (pair? ends) (odd? (quotient (+ (last ends) 511) 512)))))
    (('not c) (not (case-holds? c case)))
    (('and . cs) (every (lambda (c) (case-holds? c case)) cs))
    (('or . cs) (any (lambda (c) (case-holds? c case)) cs))))

(define (key-matches? pattern key)
  (if (string-suffix? "*" pattern)
      (string-prefix? (substring pattern 0 (- (string-length pattern) 1)) key)
      (string=? pattern key)))

(define (apply-whitelist rules case diffs)
  "Returns (values UNEXPLAINED-DIFFS RULE-IDS-THAT-EXPLAINED-SOMETHING)."
  (let ((live (filter (lambda (r) (case-holds? (assoc-ref r "when") case)) rules)))
    (let loop ((ds diffs) (left '()) (hits '()))
      (match ds
        (() (values (reverse left) (reverse (delete-duplicates hits))))
        ((d . rest)
         (let ((r (find (lambda (r)
                          (any (lambda (p) (key-matches? p (diff-key d)))
                               (assoc-ref r "explains")))
                        live)))
           (if r
               (loop rest left (cons (rule-id r) hits))
               (loop rest (cons d left) hits))))))))

;;; Hit counting (the runner counts in iteration order, single-threaded).

(define (make-rule-counter rules)
  (map (lambda (r) (cons (rule-id r) 0)) rules))

(define (count-rule-hits! counter ids)
  (for-each (lambda (id)
              (let ((cell (assoc id counter)))
                (when cell (set-cdr! cell (+ 1 (cdr cell))))))
            ids))

(define (rule-counts counter) counter)

(define (never-matched counter)
  (filter-map (lambda (c) (and (zero? (cdr c)) (car c))) counter))
