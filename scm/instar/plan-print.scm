(define-module (instar plan-print)
  #:use-module (instar core))
